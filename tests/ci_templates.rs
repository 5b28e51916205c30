//! The CI templates of `deploy/ci/` through their own linters: the GitHub
//! Actions workflow through actionlint (ShellCheck on its `run:` scripts) and
//! check-jsonschema's GitHub-workflow schema, the GitLab CI job through
//! check-jsonschema's GitLab-CI schema. Each template passes; a deliberately
//! broken copy of each fails, its linter naming the mistake. The tools come
//! from `scripts/ci-tools.sh` (a venv at `$MSS_VENV`); without them these
//! tests fail, they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

const WORKFLOW: &str = "deploy/ci/github-actions.yml";
const GITLAB: &str = "deploy/ci/gitlab-ci.yml";

/// A tool of the venv `scripts/ci-tools.sh` installs.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var("MSS_VENV").unwrap_or_else(|_| "/opt/mss-venv".to_owned());
    let path = Path::new(&venv).join("bin").join(name);
    assert!(
        path.is_file(),
        "needs {name} at {}: run scripts/ci-tools.sh (or set MSS_VENV to the venv that has it)",
        path.display()
    );
    path
}

fn template(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Run `tool args... file` on `text` written to a temporary file named like
/// the template; (success, output).
fn lint(tool: &Path, args: &[&str], name: &str, text: &str) -> (bool, String) {
    let dir = crate::util::temp_dir("ci-templates");
    let file = dir.join(name);
    std::fs::write(&file, text).expect("write");
    let out = Command::new(tool)
        .args(args)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `text` with `from` replaced by `to`, which must occur in it.
fn broken(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the template no longer has {from:?}");
    text.replacen(from, to, 1)
}

#[test]
#[ignore = "needs actionlint (and shellcheck): run by .ci/run (cargo test -- --ignored)"]
fn actionlint_passes_the_workflow_and_fails_broken_copies() {
    let actionlint = tool("actionlint");
    let status = Command::new("shellcheck").arg("--version").output();
    assert!(
        status.is_ok_and(|o| o.status.success()),
        "needs shellcheck on PATH (actionlint checks run: scripts with it): run scripts/ci-tools.sh"
    );
    let text = template(WORKFLOW);
    let (ok, out) = lint(&actionlint, &["-no-color"], "github-actions.yml", &text);
    assert!(ok, "actionlint refuses {WORKFLOW}:\n{out}");
    for (what, from, to, needle) in [
        ("a misspelt key", "runs-on:", "runs_on:", "runs_on"),
        (
            "an output of a step that does not exist",
            "steps.run.outputs.status",
            "steps.rnu.outputs.status",
            "rnu",
        ),
        (
            "an unquoted variable in a script",
            "cat results/ci/compare.txt",
            "cat $BASELINE/compare.txt",
            "SC2086",
        ),
        (
            "an unknown input of an action",
            "if-no-files-found: warn",
            "if-no-file-found: warn",
            "if-no-file-found",
        ),
        (
            "an unknown input of the cache restoring the history",
            "restore-keys:",
            "restore-key:",
            "restore-key",
        ),
    ] {
        let (ok, out) = lint(
            &actionlint,
            &["-no-color"],
            "github-actions.yml",
            &broken(&text, from, to),
        );
        assert!(!ok, "actionlint passed {what}:\n{out}");
        assert!(out.contains(needle), "{what}: {out}");
    }
}

#[test]
#[ignore = "needs check-jsonschema: run by .ci/run (cargo test -- --ignored)"]
fn check_jsonschema_passes_both_templates_and_fails_broken_copies() {
    let checker = tool("check-jsonschema");
    let github = ["--builtin-schema", "vendor.github-workflows"];
    let gitlab = ["--builtin-schema", "vendor.gitlab-ci"];
    let workflow = template(WORKFLOW);
    let job = template(GITLAB);
    let (ok, out) = lint(&checker, &github, "github-actions.yml", &workflow);
    assert!(ok, "{WORKFLOW} against the GitHub-workflow schema:\n{out}");
    let (ok, out) = lint(&checker, &gitlab, "gitlab-ci.yml", &job);
    assert!(ok, "{GITLAB} against the GitLab-CI schema:\n{out}");

    let (ok, out) = lint(
        &checker,
        &github,
        "github-actions.yml",
        &broken(&workflow, "runs-on:", "runs_on:"),
    );
    assert!(!ok && out.contains("runs-on"), "{out}");
    let (ok, out) = lint(
        &checker,
        &github,
        "github-actions.yml",
        &broken(
            &workflow,
            "timeout-minutes: 30",
            "timeout-minutes: half an hour",
        ),
    );
    assert!(!ok && out.contains("timeout-minutes"), "{out}");
    for (from, to, needle) in [
        ("    reports:\n", "    report:\n", "'report' was unexpected"),
        (
            "  artifacts:\n    when: always\n",
            "  artifacts:\n    when: sometimes\n",
            "when",
        ),
        (
            "      fallback_keys:\n        - mss-history-$CI_DEFAULT_BRANCH\n",
            "      fallback_keys: mss-history-$CI_DEFAULT_BRANCH\n",
            "fallback_keys",
        ),
        (
            "  stage: test\n",
            "  stage: test\n  scripts: [true]\n",
            "scripts",
        ),
    ] {
        let (ok, out) = lint(&checker, &gitlab, "gitlab-ci.yml", &broken(&job, from, to));
        assert!(!ok, "{from:?} -> {to:?} passed:\n{out}");
        assert!(out.contains(needle), "{from:?} -> {to:?}: {out}");
    }
}

/// A short scenario against the embedded mock, for the templates' scripts.
fn short() -> crate::scenario_file::ScenarioFile {
    crate::scenario_file::ScenarioFile::open("ci-template", 40, "2s", 50)
        .mock_latency_ms(20)
        .table("[invalid]\nVAL01 = 0.05")
        .table("[thresholds]\nglobal = [\"p99 < 2s\", \"error_rate < 1%\"]")
}

fn yaml(path: &str) -> yaml_rust2::Yaml {
    yaml_rust2::YamlLoader::load_from_str(&template(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .remove(0)
}

/// Run `script` with bash as a CI runner does (`-eo pipefail`) in `dir`, the
/// harness on PATH, `env` set; (exit code, output).
fn bash(script: &str, dir: &Path, env: &[(&str, String)]) -> (i32, String) {
    let bin = Path::new(env!("CARGO_BIN_EXE_mss-harness"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("bash");
    (out.status.code().unwrap_or(-1), crate::util::printed(&out))
}

/// The templates' own scripts, run as written against the harness built
/// here: a run of a mock scenario, appended to the run history, judged
/// against its baseline (the history holding fewer than WINDOW runs) passes
/// and leaves junit.xml, report.html, compare.json and history.html where the
/// templates publish them; against a baseline twenty times faster (by an
/// explicit limit: a run of 2 s is too short for the statistical verdict,
/// every line inconclusive), the job fails and still leaves them. Once the
/// history holds WINDOW runs, the run is judged against them instead.
#[test]
fn the_templates_scripts_run_compare_and_fail_on_a_regression() {
    let root = crate::util::temp_dir("ci-scripts");
    short().write(&root, "ci-template.toml");
    // The committed baseline, made as the templates' comments say.
    let o = Command::new(env!("CARGO_BIN_EXE_mss-harness"))
        .args([
            "run",
            "ci-template.toml",
            "--out",
            "results/baseline/ci-template",
        ])
        .current_dir(&root)
        .output()
        .expect("baseline run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A baseline whose summary says p99 1 ms (its histograms as they were):
    // the templates' run against it fails the explicit p99 limit below.
    let fast = root.join("results/baseline/fast");
    std::fs::create_dir_all(&fast).expect("dir");
    for f in ["latency.hlog", "timeseries.csv"] {
        std::fs::copy(
            root.join("results/baseline/ci-template").join(f),
            fast.join(f),
        )
        .expect("copy");
    }
    let mut s: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("results/baseline/ci-template/summary.json"))
            .expect("summary"),
    )
    .expect("json");
    for (_, svc) in s["services"].as_object_mut().expect("services") {
        svc["latency_us"]["p99"] = 1000.into();
    }
    std::fs::write(fast.join("summary.json"), s.to_string()).expect("write");

    // GitLab: the job's script lines, its variables but the ones we set.
    let gl = yaml(GITLAB);
    let job = &gl["mss-regression"];
    let script: Vec<&str> = job["script"]
        .as_vec()
        .expect("script")
        .iter()
        .map(|l| l.as_str().expect("a script line"))
        .collect();
    let script = script.join("\n");
    let var = |name: &str| {
        job["variables"][name]
            .as_str()
            .unwrap_or_else(|| panic!("GitLab variable {name}"))
            .to_owned()
    };
    let (flags, history, window) = (var("COMPARE_FLAGS"), var("HISTORY"), var("WINDOW"));
    // GitHub: the steps that run the scenario, compare, and give the verdict.
    let gh = yaml(WORKFLOW);
    let steps = gh["jobs"]["regression"]["steps"].as_vec().expect("steps");
    let step = |id: &str| -> String {
        steps
            .iter()
            .find(|s| s["id"].as_str() == Some(id) || s["name"].as_str() == Some(id))
            .and_then(|s| s["run"].as_str())
            .unwrap_or_else(|| panic!("no step {id}"))
            .to_owned()
    };
    let (gh_run, gh_compare, gh_verdict) = (step("run"), step("compare"), step("Verdict"));
    let gh_trends = step("Draw the history's trends (history.html)");
    for (name, value) in [
        ("COMPARE_FLAGS", &flags),
        ("HISTORY", &history),
        ("WINDOW", &window),
    ] {
        assert_eq!(
            gh["env"][name].as_str(),
            Some(value.as_str()),
            "the two templates judge alike: {name}"
        );
    }

    for (baseline, passes) in [
        ("results/baseline/ci-template", true),
        ("results/baseline/fast", false),
    ] {
        let env = [
            ("SCENARIO", "ci-template.toml".to_owned()),
            ("BASELINE", baseline.to_owned()),
            // The templates' flags and an explicit p99 limit, loose for a busy
            // test machine: the fast baseline's 1 ms against a 20 ms mock is
            // still +1900%.
            ("COMPARE_FLAGS", format!("{flags} --max-p99-increase 1000%")),
            ("HISTORY", history.clone()),
            ("WINDOW", window.clone()),
        ];
        let _ = std::fs::remove_dir_all(root.join("results/ci"));
        let (code, out) = bash(&script, &root, &env);
        assert_eq!(
            code == 0,
            passes,
            "GitLab job against {baseline}: exit {code}\n{out}"
        );
        for f in [
            "junit.xml",
            "report.html",
            "compare.txt",
            "compare.json",
            "history.html",
        ] {
            assert!(root.join("results/ci").join(f).is_file(), "{f}: {out}");
        }
        let html = std::fs::read_to_string(root.join("results/ci/report.html")).expect("html");
        assert!(
            html.contains("Change against the baseline"),
            "no comparison in report.html"
        );
        let compare =
            std::fs::read_to_string(root.join("results/ci/compare.txt")).expect("compare");
        assert_eq!(compare.contains("REGRESSION"), !passes, "{compare}");
        // Fewer than WINDOW runs in the history: the baseline judged.
        assert!(
            compare.contains("so the run's folder is compared with the baseline folders"),
            "{compare}"
        );

        // The same through the workflow's steps, with the runner's files.
        let _ = std::fs::remove_dir_all(root.join("results/ci"));
        let output = root.join("github-output");
        let summary = root.join("github-summary");
        let _ = std::fs::remove_file(&output);
        let mut env = env.to_vec();
        env.push(("GITHUB_OUTPUT", output.display().to_string()));
        env.push(("GITHUB_STEP_SUMMARY", summary.display().to_string()));
        for s in [&gh_run, &gh_compare] {
            let (code, out) = bash(s, &root, &env);
            assert_eq!(code, 0, "a step itself fails only on its verdict:\n{out}");
        }
        let outputs = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT");
        let status: Vec<&str> = outputs
            .lines()
            .filter_map(|l| l.strip_prefix("status="))
            .collect();
        assert_eq!(status.len(), 2, "{outputs}");
        env.push(("RUN_STATUS", status[0].to_owned()));
        env.push(("COMPARE_STATUS", status[1].to_owned()));
        let (code, out) = bash(&gh_verdict, &root, &env);
        assert_eq!(
            code == 0,
            passes,
            "workflow verdict against {baseline}: {out}"
        );
        assert!(
            std::fs::read_to_string(&summary).is_ok_and(|s| s.contains("rejected as expected")),
            "report.md in the step summary"
        );
        assert!(root.join("results/ci/junit.xml").is_file());
        let (code, out) = bash(&gh_trends, &root, &env);
        assert_eq!(code, 0, "{out}");
        assert!(root.join("results/ci/history.html").is_file(), "{out}");
    }
    // Four runs in the history now: with a window of 3 the next run is
    // judged against the three before it, the baseline no longer read.
    let env = [
        ("SCENARIO", "ci-template.toml".to_owned()),
        ("BASELINE", "results/baseline/fast".to_owned()),
        ("COMPARE_FLAGS", flags.clone()),
        ("HISTORY", history.clone()),
        ("WINDOW", "3".to_owned()),
    ];
    let _ = std::fs::remove_dir_all(root.join("results/ci"));
    let (code, out) = bash(&script, &root, &env);
    assert_eq!(
        code, 0,
        "GitLab job against its history: exit {code}\n{out}"
    );
    let compare = std::fs::read_to_string(root.join("results/ci/compare.txt")).expect("compare");
    assert!(
        compare.contains("history check: run #5")
            && compare.contains("judged against the 3 runs before it (#2 … #4; window 3)"),
        "{compare}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// GitHub's anchor of a Markdown heading: lower case, punctuation dropped,
/// spaces as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The README's first screen says who it is for, the two commands, and links
/// to "Against the ministry" and "Regression checks in your CI", whose
/// anchors are headings of the README.
#[test]
fn the_readme_first_screen_leads_to_the_ministry_and_ci() {
    let readme = template("README.md");
    let first: String = readme.lines().take(30).collect::<Vec<_>>().join("\n");
    for needle in [
        "QA and integration teams",
        "cargo run --release -- run",
        "cargo test --workspace",
    ] {
        assert!(first.contains(needle), "first screen lacks {needle:?}");
    }
    let anchors: Vec<String> = readme
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(anchor)
        .collect();
    for title in ["Against the ministry", "Regression checks in your CI"] {
        let link = first
            .split(&format!("[**{title}**](#"))
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .unwrap_or_else(|| panic!("first screen has no link to {title:?}"));
        assert!(
            anchors.iter().any(|a| a == link),
            "#{link} is no heading of README.md"
        );
    }
}
