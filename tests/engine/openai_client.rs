//! The `openai` Python library against /v1/chat/completions, streamed and not
//! (tests/clients/openai_client.py; scripts/setup-python-client.sh makes its virtualenv).

use std::path::PathBuf;

use crate::contract_cases::{SERVED_ID, TEST_KEY};

fn python() -> PathBuf {
    match std::env::var_os("HEARTH_CLIENT_VENV") {
        Some(venv) => PathBuf::from(venv),
        None => {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/hearth/pyclient")
        }
    }
    .join("bin/python")
}

#[test]
fn openai_python_client_works_unchanged() {
    let python = python();
    assert!(
        python.exists(),
        "{}: run `bash scripts/setup-python-client.sh` first",
        python.display()
    );
    let addr = crate::server::start();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/openai_client.py"
    );
    // The short id (the last path segment) is what a user would type.
    let model = SERVED_ID.rsplit('/').next().unwrap();
    let output = std::process::Command::new(&python)
        .args([script, &format!("http://{addr}"), TEST_KEY, model])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    println!("openai client saw: {seen}");
    assert!(seen["stream_chunks"].as_u64().unwrap() >= 3);
}
