//! What the apiserver holds is the shipped configuration
//! (`manifests/webhook/webhook-configurations.yaml`): every webhook with the same rules,
//! selectors, failure policy and timeout; only `clientConfig` points at loopback instead
//! of the Service, with the CA of `tidb-backup-webhook certs` as its `caBundle`.

use serde_json::Value;

use crate::harness::Env;
use crate::harness::crds::repository_path;

pub fn configurations_are_the_shipped_ones(env: &Env) {
    let shipped = std::fs::read_to_string(repository_path(
        "manifests/webhook/webhook-configurations.yaml",
    ))
    .expect("read the shipped webhook configurations");
    let documents: Vec<Value> = serde_saphyr::from_multiple(&shipped).expect("YAML");
    let documents: Vec<&Value> = documents.iter().filter(|d| !d.is_null()).collect();
    assert_eq!(
        documents.len(),
        3,
        "two mutating configurations and one validating"
    );
    for configuration in documents {
        let kind = configuration["kind"].as_str().expect("kind").to_lowercase();
        let name = configuration["metadata"]["name"].as_str().expect("name");
        let live = env.kubectl().ok(&["get", &kind, name, "-o", "json"]);
        let live: Value = serde_json::from_str(&live.stdout).expect("JSON");
        let shipped_hooks = configuration["webhooks"].as_array().expect("webhooks");
        let live_hooks = live["webhooks"].as_array().expect("webhooks");
        assert_eq!(
            live_hooks.iter().map(|h| &h["name"]).collect::<Vec<_>>(),
            shipped_hooks.iter().map(|h| &h["name"]).collect::<Vec<_>>(),
            "{kind}/{name}: the same webhooks"
        );
        for (shipped_hook, live_hook) in shipped_hooks.iter().zip(live_hooks) {
            let hook = shipped_hook["name"].as_str().expect("name");
            for (field, value) in shipped_hook.as_object().expect("webhook") {
                if field != "clientConfig" {
                    assert_eq!(&live_hook[field], value, "{hook}: {field} as shipped");
                }
            }
            let service = &shipped_hook["clientConfig"]["service"];
            let url = live_hook["clientConfig"]["url"].as_str().expect("a URL");
            assert!(
                url.starts_with("https://127.0.0.1:")
                    && url.ends_with(service["path"].as_str().expect("path")),
                "{hook}: the shipped path on loopback: {url}"
            );
            assert!(
                live_hook["clientConfig"]["caBundle"]
                    .as_str()
                    .is_some_and(|bundle| !bundle.is_empty()),
                "{hook}: caBundle filled by `manifests --ca-bundle`"
            );
        }
    }
}
