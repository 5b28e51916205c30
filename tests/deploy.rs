//! The Kubernetes recipe, checked as data (the fields the README's steps rely
//! on, the arguments as the harness's command line reads them) and against
//! Kubernetes' own published schemas (kubernetes-validate, an ignored test).

use std::path::Path;

use clap::Parser as _;

use yaml_rust2::{Yaml, YamlLoader};

fn load(name: &str) -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

fn s<'a>(y: &'a Yaml, what: &str) -> &'a str {
    y.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {y:?}"))
}

#[test]
fn the_indexed_job_recipe_holds_together() {
    let job = load("job.yaml");
    assert_eq!(s(&job["kind"], "kind"), "Job");
    let spec = &job["spec"];
    assert_eq!(s(&spec["completionMode"], "completionMode"), "Indexed");
    let completions = spec["completions"].as_i64().expect("completions");
    assert_eq!(
        spec["parallelism"].as_i64(),
        Some(completions),
        "parallelism = completions"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(s(&pod["restartPolicy"], "restartPolicy"), "Never");
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_vec()
        .expect("args")
        .iter()
        .map(|a| s(a, "arg"))
        .collect();
    let after = |flag: &str| {
        args.iter()
            .position(|a| *a == flag)
            .and_then(|i| args.get(i + 1))
            .copied()
            .unwrap_or_else(|| panic!("{flag} missing in {args:?}"))
    };
    assert_eq!(args[0], "run");
    assert_eq!(
        after("--workers").parse::<i64>().ok(),
        Some(completions),
        "COUNT = completions"
    );
    assert_eq!(after("--start-at"), "$(START_AT)");
    assert!(after("--out").contains("$(JOB_COMPLETION_INDEX)"));
    // Credentials from the Secret, as environment variables.
    let secret = load("secret.example.yaml");
    assert_eq!(s(&secret["kind"], "kind"), "Secret");
    let secret_name = s(&secret["metadata"]["name"], "secret name");
    let refs = container["envFrom"].as_vec().expect("envFrom");
    assert!(
        refs.iter()
            .any(|r| r["secretRef"]["name"].as_str() == Some(secret_name))
    );
    for key in ["MSS_USERNAME", "MSS_PASSWORD", "MSS_CLIENT_ID"] {
        assert!(!secret["stringData"][key].is_badvalue(), "{key}");
    }
    // The scenario from the ConfigMap, the results on the shared volume.
    let volumes = pod["volumes"].as_vec().expect("volumes");
    let config = load("configmap.yaml");
    let config_name = s(&config["metadata"]["name"], "configmap name");
    assert!(
        volumes
            .iter()
            .any(|v| v["configMap"]["name"].as_str() == Some(config_name))
    );
    let pvc = load("pvc.yaml");
    let claim = s(&pvc["metadata"]["name"], "pvc name");
    assert_eq!(
        s(&pvc["spec"]["accessModes"][0], "accessModes"),
        "ReadWriteMany"
    );
    let results = volumes
        .iter()
        .find(|v| v["persistentVolumeClaim"]["claimName"].as_str() == Some(claim))
        .expect("the results volume");
    let mount = container["volumeMounts"]
        .as_vec()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == results["name"])
        .expect("mounted");
    assert!(after("--out").starts_with(s(&mount["mountPath"], "mountPath")));
    // The scenario itself is a valid one, its host allowed and confirmed.
    let text = s(&config["data"]["scenario.toml"], "scenario.toml");
    let scenario = mss_harness::scenario::RunPlan::parse(
        text,
        Path::new("configmap.yaml"),
        mss_contract::Contract::embedded(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let host = reqwest::Url::parse(scenario.target.url()).expect("url");
    let host = host.host_str().expect("host");
    assert!(scenario.target.allowed_hosts().iter().any(|h| h == host));
    assert_eq!(after("--confirm-production"), host);
    // The merge step reads every worker's folder from the same claim.
    let merge = load("merge-job.yaml");
    let margs: Vec<&str> = merge["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .expect("args")
        .iter()
        .map(|a| s(a, "arg"))
        .collect();
    assert_eq!(margs[0], "merge");
    assert_eq!(
        margs
            .iter()
            .filter(|a| a.starts_with("/results/") && **a != "/results/merged")
            .count() as i64,
        completions
    );
    assert_eq!(
        merge["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
            .as_str(),
        Some(claim)
    );
}

/// The Job's arguments, `$(VAR)` left as is.
fn job_args(job: &Yaml) -> Vec<String> {
    job["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_vec()
        .expect("args")
        .iter()
        .map(|a| s(a, "arg").to_owned())
        .collect()
}

#[test]
fn each_worker_serves_its_metrics_where_the_scrape_annotations_point() {
    let job = load("job.yaml");
    let template = &job["spec"]["template"];
    let annotations = &template["metadata"]["annotations"];
    assert_eq!(s(&annotations["prometheus.io/scrape"], "scrape"), "true");
    assert_eq!(s(&annotations["prometheus.io/path"], "path"), "/metrics");
    let port: u16 = s(&annotations["prometheus.io/port"], "port")
        .parse()
        .expect("a port number");
    let container = &template["spec"]["containers"][0];
    assert!(
        container["ports"]
            .as_vec()
            .expect("ports")
            .iter()
            .any(|p| p["containerPort"].as_i64() == Some(i64::from(port))),
        "containerPort {port}"
    );
    // The arguments as the harness's own command line reads them.
    let args = job_args(&job);
    let cli = mss_harness::cli::Cli::try_parse_from(
        std::iter::once("mss-harness".to_owned()).chain(args.iter().cloned()),
    )
    .unwrap_or_else(|e| panic!("the Job's args do not parse: {e}"));
    let mss_harness::cli::Command::Run(run) = cli.command else {
        panic!("the Job does not run a scenario")
    };
    let addr: std::net::SocketAddr = run
        .dashboard
        .dashboard
        .as_deref()
        .expect("--dashboard")
        .parse()
        .expect("an address");
    assert_eq!(addr.port(), port, "--dashboard's port");
    assert!(
        addr.ip().is_unspecified(),
        "reachable from the Prometheus pod"
    );
    assert!(run.dashboard.dashboard_remote, "--dashboard-remote");
    assert!(
        run.dashboard
            .dashboard_linger
            .is_some_and(|l| l.as_secs() >= 15),
        "a linger of at least a couple of scrape intervals, for the last scrape"
    );
}

/// `kubernetes-validate` (the Python package, pinned in scripts/ci-tools.sh)
/// in `$MSS_VENV`.
fn kubernetes_validate() -> std::path::PathBuf {
    crate::util::venv_tool("kubernetes-validate", "kubernetes-validate")
}

/// Kubernetes' published OpenAPI schemas, as kubernetes-validate ships them.
const KUBERNETES: &str = "1.37.0";

#[test]
#[ignore = "needs kubernetes-validate: run by .ci/run (cargo test -- --ignored)"]
fn the_recipe_validates_against_kubernetes_own_schemas() {
    let bin = kubernetes_validate();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let validate = |files: &[std::path::PathBuf]| {
        std::process::Command::new(&bin)
            .args(["--strict", "--kubernetes-version", KUBERNETES])
            .args(files)
            .output()
            .expect("run kubernetes-validate")
    };
    let out = validate(&files);
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    for f in &files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        assert!(
            report
                .lines()
                .any(|l| l.contains(&name) && l.contains("passed")),
            "{name} not validated:\n{report}"
        );
    }
    // The same check fails on a field Kubernetes does not know (offline: the
    // schemas ship with the package).
    let tmp = crate::util::temp_dir("deploy-validate");
    let job = std::fs::read_to_string(dir.join("job.yaml")).expect("job.yaml");
    let broken = tmp.join("job.yaml");
    std::fs::write(&broken, job.replace("completionMode:", "completionMod:")).expect("write");
    let out = validate(&[broken]);
    assert!(
        !out.status.success(),
        "a misspelt field passed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
