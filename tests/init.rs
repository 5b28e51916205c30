//! `mss-harness init`: the files it writes parse and run (`run --dry-run`),
//! the credentials template is private (mode 600) and refused until filled
//! in, the `.gitignore` keeps outputs and credentials out of git (asked of
//! git itself), every scenario key is present with its true default, and a
//! second `init` overwrites nothing (exit 2, naming the files).

use std::path::Path;
use std::process::{Command, Output};

use mss_harness::scenario::RunPlan;

use crate::util::printed as text;

fn harness(args: &[&str], cwd: &Path) -> Output {
    crate::util::harness_command()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mss-harness")
}

#[test]
fn init_writes_a_scenario_that_runs_a_private_credentials_template_and_refuses_to_overwrite() {
    let root = crate::util::temp_dir("init");
    let o = harness(&["init", "qa"], &root);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = root.join("qa");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    // The next three commands, in order.
    let next: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "next:")
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(next.len(), 3, "{out}");
    assert!(
        next[0].starts_with("mss-harness preflight --target ")
            && next[0].contains("--credentials qa/credentials.toml"),
        "{out}"
    );
    assert_eq!(next[1], "mss-harness run qa/scenario.toml --dry-run");
    assert_eq!(next[2], "mss-harness run qa/scenario.toml");

    // The scenario parses, and the printed dry run succeeds.
    let scenario = RunPlan::load(
        dir.join("scenario.toml").to_str().expect("utf-8"),
        mss_contract::Contract::embedded(),
    )
    .unwrap_or_else(|e| panic!("the written scenario does not parse: {e}"));
    assert_eq!(scenario.target.url(), "mock");
    let o = harness(&["run", "qa/scenario.toml", "--dry-run"], &root);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("dry run: nothing is sent"),
        "{}",
        text(&o)
    );

    // The credentials template: mode 600, readable as a credentials file's
    // format, refused while it holds the placeholders.
    let creds = dir.join("credentials.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds)
            .expect("credentials")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "credentials.toml mode {mode:o}");
    }
    let template = std::fs::read_to_string(&creds).expect("template");
    assert!(template.contains("outside every repository"), "{template}");
    let e = mss_harness::credentials::from_file(&creds)
        .expect_err("placeholders refused")
        .to_string();
    assert!(
        e.contains("username, password, client_id") && e.contains("placeholder"),
        "{e}"
    );
    let filled = template
        .replace("REPLACE-usuario-de-conexion", "qa-user")
        .replace("REPLACE-password", "canary-secret")
        .replace("REPLACE-client-id\"", "qa-client\"");
    std::fs::write(&creds, filled).expect("fill in");
    let set = mss_harness::credentials::from_file(&creds).expect("a filled-in template reads");
    assert_eq!(set.username, "qa-user");
    assert_eq!(
        set.client_ids().expect("client_id"),
        ("qa-client".into(), "qa-client".into())
    );

    // The .gitignore, as git reads it: outputs and credentials out, the
    // baselines a regression check compares with in.
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("git is needed by this test")
    };
    assert!(git(&["init", "-q"]).status.success());
    for (path, ignored) in [
        ("credentials.toml", true),
        ("results/20261201T000000Z-first-run/summary.json", true),
        ("results/baseline/first-run/summary.json", false),
        ("scenario.toml", false),
    ] {
        let o = git(&["check-ignore", "-q", path]);
        assert_eq!(o.status.success(), ignored, "{path}: ignored {ignored}");
    }
    // A second init in the same folder: exit 2, naming every file, nothing
    // overwritten.
    let before = std::fs::read_to_string(&creds).expect("credentials");
    let o = harness(&["init", "qa"], &root);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for f in ["qa/scenario.toml", "qa/credentials.toml", "qa/.gitignore"] {
        assert!(err.contains(f), "{f} not named: {err}");
    }
    assert!(!err.contains("canary-secret"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&creds).expect("credentials"),
        before
    );
    // One of them is enough to refuse.
    std::fs::remove_file(dir.join("scenario.toml")).expect("remove");
    std::fs::remove_file(&creds).expect("remove");
    let o = harness(&["init", "qa"], &root);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        !dir.join("scenario.toml").exists(),
        "init wrote after refusing"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn init_for_the_ministry_writes_a_capped_scenario_with_credentials() {
    let root = crate::util::temp_dir("init-url");
    let o = harness(
        &["init", "--target", "https://miseguridadsocial.gov.co:8062/"],
        &root,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "mss-harness preflight --target https://miseguridadsocial.gov.co:8062 --credentials ./credentials.toml"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "mss-harness run ./scenario.toml --confirm-production miseguridadsocial.gov.co"
        ),
        "{out}"
    );
    let s = RunPlan::load(
        root.join("scenario.toml").to_str().expect("utf-8"),
        mss_contract::Contract::embedded(),
    )
    .expect("parses");
    assert_eq!(s.target.allowed_hosts(), ["miseguridadsocial.gov.co"]);
    assert_eq!(
        match &s.target {
            mss_harness::scenario::TargetPlan::Url(u) => Some(u.credentials.clone()),
            mss_harness::scenario::TargetPlan::Mock(_) => None,
        },
        Some(mss_harness::scenario::CredentialSource::File(
            "./credentials.toml".into()
        ))
    );
    assert!(
        s.invalid.is_empty(),
        "no invalid records to the ministry by default"
    );
    let o = harness(&["run", "./scenario.toml", "--dry-run"], &root);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("PRODUCTION host"), "{}", text(&o));
    // A target that is neither: exit 2, naming the flag.
    for bad in ["ftp://example.org", "nonsense"] {
        let o = harness(&["init", "x", "--target", bad], &root);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains("--target"), "{}", text(&o));
        assert!(!root.join("x").exists(), "{bad}: wrote files");
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Every key of the scenario format (the key table of scenarios/README.md) is
/// in the written scenario, and a commented value is the true default: the
/// scenario with those lines uncommented is the same scenario.
#[test]
fn init_shows_every_key_with_its_default() {
    let root = crate::util::temp_dir("init-keys");
    let o = harness(&["init"], &root);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let written = std::fs::read_to_string(root.join("scenario.toml")).expect("scenario");
    let keys = crate::util::documented_scenario_keys();
    assert!(keys.len() > 30, "{keys:?}");
    for key in &keys {
        let line = |l: &str| {
            let l = l.trim_start_matches("# ").trim();
            l.starts_with(&format!("{key} =")) || l == format!("[{key}]")
        };
        let table = key.trim_matches(|c| c == '[' || c == ']');
        assert!(
            written.lines().any(line)
                || written
                    .lines()
                    .any(|l| l.trim_start_matches("# ") == format!("[{table}]")),
            "scenario key {key} missing from the written scenario:\n{written}"
        );
    }
    // Uncomment the defaults of the sections the target uses.
    let defaults = [
        "seed",
        "administradora",
        "radicado_prefix",
        "refresh_margin",
        "refresh_jitter",
        "timeout",
        "connect_timeout",
        "retry_budget",
        "max_rate",
        "max_duration",
        "max_requests",
        "token_ttl_seconds",
        "max_records",
        "max_fingerprints",
        "start_rate",
        "traceparent",
    ];
    let uncommented: String = written
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if defaults
                    .iter()
                    .any(|k| rest.starts_with(&format!("{k} = "))) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(uncommented, written);
    let a = RunPlan::parse(
        &written,
        Path::new("written.toml"),
        mss_contract::Contract::embedded(),
    )
    .expect("written");
    let b = RunPlan::parse(
        &uncommented,
        Path::new("uncommented.toml"),
        mss_contract::Contract::embedded(),
    )
    .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
    // What a run takes from each: the same.
    assert_eq!(format!("{:?}", a.data), format!("{:?}", b.data));
    assert_eq!(format!("{:?}", a.token), format!("{:?}", b.token));
    assert_eq!(format!("{:?}", a.http), format!("{:?}", b.http));
    assert_eq!(a.caps, b.caps);
    assert_eq!(a.load, b.load);
    let traceparent = |p: &RunPlan| p.file().target.sends_traceparent(p.target.is_production());
    assert_eq!(traceparent(&a), traceparent(&b));
    // The mock's settings: what the mock takes when none is given.
    let mock = mss_mock::MockConfig::with_clients(Vec::new());
    let m = b.target.mock().expect("the embedded mock");
    assert_eq!(m.token_ttl_seconds, Some(mock.token_ttl_seconds));
    assert_eq!(m.max_records, Some(mock.max_records));
    assert_eq!(m.max_fingerprints, Some(mock.max_fingerprints));
    assert_eq!(
        a.target
            .mock()
            .expect("the embedded mock")
            .token_ttl_seconds,
        None
    );
    let _ = std::fs::remove_dir_all(&root);
}
