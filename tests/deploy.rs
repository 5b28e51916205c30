//! The Kubernetes recipe, checked as data: the fields the README's steps rely
//! on (kubectl is not available here to validate it).

use std::path::Path;

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
    let scenario = mss_harness::scenario::Scenario::parse(text, Path::new("configmap.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let host = reqwest::Url::parse(&scenario.target.url).expect("url");
    let host = host.host_str().expect("host");
    assert!(scenario.target.allowed_hosts.iter().any(|h| h == host));
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
