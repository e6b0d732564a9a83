//! `hearth serve --model ORG/NAME` against a local server that imitates the hub's file
//! endpoints: the revision API, HEAD with X-Linked-Etag/X-Linked-Size and a redirect to a
//! "CDN" for LFS files, Range requests, a transfer cut off mid-file, a missing repo.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::model::Precision;
use hearth::native::files::DirSource;
use hearth::native::hub::{Hub, HubError, HubSettings};

use crate::common;

const REPO: &str = "hearth-test/tiny-gqa-tied";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The imitation hub: serves a test model's files and records each request.
struct MockHub {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    files: HashMap<String, Vec<u8>>,
    state: Arc<State>,
}

struct State {
    files: HashMap<String, Vec<u8>>,
    log: Arc<Mutex<Vec<String>>>,
    /// Weight transfers still to be cut off halfway.
    cuts: Mutex<u32>,
    corrupt: bool,
    /// Weight transfers trickle (256 KiB every 20 ms) while set, so a test can kill a
    /// download halfway.
    slow: AtomicBool,
    /// The size the hub claims for weight files, when not their own.
    claimed_size: Mutex<Option<u64>>,
}

impl MockHub {
    fn start(cuts: u32, corrupt: bool) -> Self {
        let files: HashMap<String, Vec<u8>> = common::model_files_with("tiny-gqa-tied", None, 2)
            .into_iter()
            .map(|(name, blob)| (name, (*blob).as_ref().to_vec()))
            .collect();
        Self::serving(files, cuts, corrupt)
    }

    fn serving(files: HashMap<String, Vec<u8>>, cuts: u32, corrupt: bool) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            files: files.clone(),
            log: log.clone(),
            cuts: Mutex::new(cuts),
            corrupt,
            slow: AtomicBool::new(false),
            claimed_size: Mutex::new(None),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = served.clone();
                std::thread::spawn(move || answer(stream, &state));
            }
        });
        Self {
            url,
            log,
            files,
            state,
        }
    }

    fn set_slow(&self, slow: bool) {
        self.state.slow.store(slow, Ordering::SeqCst);
    }

    fn requests(&self, prefix: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|l| l.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn settings(&self, cache: &Path) -> HubSettings {
        HubSettings {
            endpoint: self.url.clone(),
            cache: cache.to_path_buf(),
            token: Some("hf_test".into()),
            offline: false,
        }
    }
}

fn is_lfs(name: &str) -> bool {
    name.ends_with(".safetensors") || name.ends_with(".gguf")
}

fn answer(mut stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut range = None;
    let mut auth = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.to_ascii_lowercase().as_str() {
            "range" => range = Some(value.trim().to_string()),
            "authorization" => auth = Some(value.trim().to_string()),
            _ => {}
        }
    }
    state.log.lock().unwrap().push(format!(
        "{method} {path} range={} auth={}",
        range.as_deref().unwrap_or("-"),
        auth.as_deref().unwrap_or("-")
    ));
    let reply = |stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| {
        let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(b"\r\n");
        if method != "HEAD" && !body.is_empty() {
            let _ = stream.write_all(body);
        }
    };
    let resolve = format!("/{REPO}/resolve/{COMMIT}/");
    if path == format!("/api/models/{REPO}/revision/main") {
        let mut names: Vec<&String> = state.files.keys().collect();
        names.sort();
        let siblings: Vec<String> = names
            .iter()
            .map(|n| format!("{{\"rfilename\":\"{n}\"}}"))
            .collect();
        let body = format!(
            "{{\"id\":\"{REPO}\",\"sha\":\"{COMMIT}\",\"siblings\":[{}]}}",
            siblings.join(",")
        );
        reply(
            &mut stream,
            "200 OK",
            &[
                ("content-type", "application/json".into()),
                ("content-length", body.len().to_string()),
            ],
            body.as_bytes(),
        );
    } else if let Some(name) = path.strip_prefix(&resolve) {
        let Some(bytes) = state.files.get(name) else {
            return reply(
                &mut stream,
                "404 Not Found",
                &[("content-length", "0".into())],
                b"",
            );
        };
        if is_lfs(name) {
            let sha = common::sha256(bytes);
            reply(
                &mut stream,
                "302 Found",
                &[
                    ("location", format!("/cdn/{name}")),
                    ("x-linked-etag", format!("\"{sha}\"")),
                    (
                        "x-linked-size",
                        state
                            .claimed_size
                            .lock()
                            .unwrap()
                            .unwrap_or(bytes.len() as u64)
                            .to_string(),
                    ),
                    ("x-repo-commit", COMMIT.into()),
                    ("content-length", "0".into()),
                ],
                b"",
            );
        } else {
            let etag = &common::sha256(bytes)[..40];
            reply(
                &mut stream,
                "200 OK",
                &[
                    ("etag", format!("\"{etag}\"")),
                    ("content-length", bytes.len().to_string()),
                ],
                bytes,
            );
        }
    } else if let Some(name) = path.strip_prefix("/cdn/") {
        let mut bytes = state.files[name].clone();
        if state.corrupt {
            bytes[100] ^= 1;
        }
        let from: usize = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
            .unwrap_or(0);
        let rest = &bytes[from..];
        let (status, mut headers) = if from > 0 {
            (
                "206 Partial Content",
                vec![(
                    "content-range",
                    format!("bytes {from}-{}/{}", bytes.len() - 1, bytes.len()),
                )],
            )
        } else {
            ("200 OK", vec![])
        };
        headers.push(("content-length", rest.len().to_string()));
        let cut = {
            let mut cuts = state.cuts.lock().unwrap();
            let cut = *cuts > 0 && from == 0;
            *cuts = cuts.saturating_sub(u32::from(cut));
            cut
        };
        // A cut transfer promises the whole length and hangs up halfway.
        let sent = if cut { &rest[..rest.len() / 2] } else { rest };
        if state.slow.load(Ordering::SeqCst) {
            reply(&mut stream, status, &headers, b"");
            for piece in sent.chunks(256 << 10) {
                if stream.write_all(piece).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            reply(&mut stream, status, &headers, sent);
        }
    } else {
        let body = b"{\"error\":\"Repository not found\"}";
        reply(
            &mut stream,
            "401 Unauthorized",
            &[
                ("x-error-code", "RepoNotFound".into()),
                ("content-length", body.len().to_string()),
            ],
            body,
        );
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = reader.read_to_end(&mut Vec::new());
}

fn fresh_cache(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn downloads_resumes_a_cut_transfer_and_loads() {
    let hub = MockHub::start(1, false);
    let cache = fresh_cache("hub-download");
    let dir = Hub::new(hub.settings(&cache))
        .snapshot(REPO, "main")
        .unwrap();

    let repo_dir = cache.join("models--hearth-test--tiny-gqa-tied");
    assert_eq!(dir, repo_dir.join("snapshots").join(COMMIT));
    assert_eq!(
        std::fs::read_to_string(repo_dir.join("refs/main")).unwrap(),
        COMMIT
    );
    for (name, bytes) in &hub.files {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), bytes, "{name}");
        assert!(
            dir.join(name)
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    // The first shard's transfer was cut halfway and resumed from there.
    let cdn = hub.requests("GET /cdn/");
    assert!(
        cdn.iter().any(|r| !r.contains("range=-")),
        "no ranged request in {cdn:?}"
    );
    // The token goes to the hub, never to the CDN it redirects to.
    assert!(
        hub.requests("GET /api/")
            .iter()
            .all(|r| r.ends_with("auth=Bearer hf_test"))
    );
    assert!(cdn.iter().all(|r| r.ends_with("auth=-")), "{cdn:?}");

    Engine::load(&DirSource::new(&dir), &Device::flex(), Precision::F32)
        .expect("downloaded checkpoint loads");

    // A second run reuses every file: one revision lookup, no transfer.
    let before = hub.requests("").len();
    let again = Hub::new(hub.settings(&cache))
        .snapshot(REPO, "main")
        .unwrap();
    assert_eq!(again, dir);
    let after = hub.requests("");
    assert_eq!(after.len(), before + 1, "{:?}", &after[before..]);
}

#[test]
fn resumes_a_partial_file_left_by_an_earlier_run() {
    let hub = MockHub::start(0, false);
    let cache = fresh_cache("hub-partial");
    let name = "model-00001-of-00002.safetensors";
    let bytes = &hub.files[name];
    let blobs = cache.join("models--hearth-test--tiny-gqa-tied/blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    let partial = blobs.join(format!("{}.incomplete", common::sha256(bytes)));
    std::fs::write(&partial, &bytes[..1000]).unwrap();

    let dir = Hub::new(hub.settings(&cache))
        .snapshot(REPO, "main")
        .unwrap();
    assert_eq!(&std::fs::read(dir.join(name)).unwrap(), bytes);
    assert!(!partial.exists());
    let ranged = hub.requests(&format!("GET /cdn/{name}"));
    assert_eq!(ranged.len(), 1);
    assert!(ranged[0].contains("range=bytes=1000-"), "{ranged:?}");
}

#[test]
fn a_missing_repo_names_it_and_hf_token() {
    let hub = MockHub::start(0, false);
    let cache = fresh_cache("hub-missing");
    let error = Hub::new(hub.settings(&cache))
        .snapshot("nobody/nothing", "main")
        .unwrap_err();
    assert!(
        matches!(error, HubError::NotFound { status: 401, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("nobody/nothing") && message.contains("HF_TOKEN"),
        "{message}"
    );
}

#[test]
fn a_corrupt_download_is_refused_and_not_kept() {
    let hub = MockHub::start(0, true);
    let cache = fresh_cache("hub-corrupt");
    let error = Hub::new(hub.settings(&cache))
        .snapshot(REPO, "main")
        .unwrap_err();
    assert!(matches!(error, HubError::Integrity { .. }), "{error:?}");
    assert!(error.to_string().contains(".safetensors"), "{error}");
    let blobs = cache.join("models--hearth-test--tiny-gqa-tied/blobs");
    let leftovers: Vec<_> = std::fs::read_dir(blobs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".incomplete"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn offline_and_unreachable_use_the_cache_or_say_what_to_do() {
    let hub = MockHub::start(0, false);
    let cache = fresh_cache("hub-offline");
    let nowhere = HubSettings {
        endpoint: "http://127.0.0.1:1".into(),
        ..hub.settings(&cache)
    };
    let offline = HubSettings {
        offline: true,
        ..hub.settings(&cache)
    };
    let message = Hub::new(nowhere.clone())
        .snapshot(REPO, "main")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("cannot reach http://127.0.0.1:1") && message.contains("--model-dir"),
        "{message}"
    );
    let message = Hub::new(offline.clone())
        .snapshot(REPO, "main")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("HF_HUB_OFFLINE") && message.contains("--model-dir"),
        "{message}"
    );

    let dir = Hub::new(hub.settings(&cache))
        .snapshot(REPO, "main")
        .unwrap();
    let requests = hub.requests("").len();
    assert_eq!(Hub::new(offline).snapshot(REPO, "main").unwrap(), dir);
    assert_eq!(Hub::new(nowhere).snapshot(REPO, "main").unwrap(), dir);
    assert_eq!(
        hub.requests("").len(),
        requests,
        "offline must not touch the network"
    );
}

/// The command line says the same in one line and exits non-zero.
#[test]
fn serve_without_hub_or_cache_says_how_to_serve_a_directory() {
    let home = fresh_cache("hub-cli");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--backend", "cpu", "--port", "0"])
        .env("HF_HOME", &home)
        .env("HF_ENDPOINT", "http://127.0.0.1:1")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("hearth: ")
            && last.contains("Qwen/Qwen2.5-0.5B-Instruct")
            && last.contains("cannot reach")
            && last.contains("--model-dir"),
        "{stderr}"
    );
}

/// `--model ORG/NAME:QUANT`: the one .gguf file whose name has QUANT in it, into the same
/// cache, cut transfers resumed; a QUANT that matches none (or several) lists the files.
#[test]
fn a_gguf_repo_gives_the_file_its_quant_names() {
    let read = |ty: &str| {
        let home = std::env::var_os("HOME").unwrap();
        let path =
            PathBuf::from(home).join(format!(".cache/hearth/test-ggufs/tiny-gqa-tied-{ty}.gguf"));
        std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}: run scripts/make-test-ggufs.sh", path.display()))
    };
    let files = HashMap::from([
        ("tiny-Q8_0.gguf".to_string(), read("Q8_0")),
        ("tiny-Q4_0.gguf".to_string(), read("Q4_0")),
        ("README.md".to_string(), b"# tiny".to_vec()),
    ]);
    let hub = MockHub::serving(files, 1, false);
    let cache = fresh_cache("hub-gguf");
    let path = Hub::new(hub.settings(&cache))
        .gguf(REPO, "main", "q8_0")
        .unwrap();
    assert!(
        path.ends_with(format!("snapshots/{COMMIT}/tiny-Q8_0.gguf")),
        "{}",
        path.display()
    );
    assert_eq!(std::fs::read(&path).unwrap(), read("Q8_0"));
    let blob: hearth::model::safetensors::Blob = Arc::new(std::fs::read(&path).unwrap());
    let engine = Engine::load_gguf(
        "tiny-Q8_0.gguf",
        blob,
        &Device::flex(),
        None,
        Box::new(|_, _| {}),
    )
    .unwrap();
    assert_eq!(engine.model.precision(), "q8");
    // Offline, the cached file is found again.
    let offline = HubSettings {
        offline: true,
        ..hub.settings(&cache)
    };
    assert_eq!(Hub::new(offline).gguf(REPO, "main", "Q8_0").unwrap(), path);

    let message = Hub::new(hub.settings(&cache))
        .gguf(REPO, "main", "Q5_K_M")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("0 .gguf files have \"Q5_K_M\"") && message.contains("tiny-Q4_0.gguf"),
        "{message}"
    );
    let message = Hub::new(hub.settings(&cache))
        .gguf(REPO, "main", "tiny")
        .unwrap_err()
        .to_string();
    assert!(message.contains("2 .gguf files have \"tiny\""), "{message}");
}

/// `hearth serve --model REPO` from `hub` into `cache` (its hub cache directory), through
/// `wrapper` (a shell prefix such as a `ulimit`) when given.
fn serve_from_hub(hub: &MockHub, cache: &Path, wrapper: Option<&str>) -> Child {
    let hearth = env!("CARGO_BIN_EXE_hearth");
    let args = ["serve", "--backend", "cpu", "--port", "0", "--model", REPO];
    let mut command = match wrapper {
        Some(prefix) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("{prefix} && exec \"$0\" \"$@\""))
                .arg(hearth);
            c
        }
        None => Command::new(hearth),
    };
    command
        .args(args)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_HUB_CACHE", cache)
        .env("HF_TOKEN", "hf_test")
        .env_remove("HF_HUB_OFFLINE")
        .env("RUST_LOG", "warn,hearth=info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads `child`'s log until it serves (true) or exits (false); the lines read.
fn wait_for_serving(child: &mut Child) -> (bool, String) {
    let mut log = String::new();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.map_while(Result::ok) {
        log.push_str(&line);
        log.push('\n');
        if line.contains("serving on http://") {
            return (true, log);
        }
    }
    (false, log)
}

fn blobs(cache: &Path) -> PathBuf {
    cache.join("models--hearth-test--tiny-gqa-tied/blobs")
}

/// The `.incomplete` file of the download in progress, once it has some bytes.
fn partial_download(cache: &Path) -> (PathBuf, u64) {
    let started = Instant::now();
    loop {
        let found = std::fs::read_dir(blobs(cache)).ok().and_then(|entries| {
            entries.flatten().find_map(|e| {
                let len = e.metadata().ok()?.len();
                let name = e.file_name().to_string_lossy().into_owned();
                // A weight shard's (its sha256 for a name), not a small file's.
                let shard = name
                    .strip_suffix(".incomplete")
                    .is_some_and(|s| s.len() == 64);
                (shard && len > 0).then(|| (e.path(), len))
            })
        });
        if let Some(found) = found {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no download started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The weight shard whose blob `partial` will become.
fn shard_of(hub: &MockHub, partial: &Path) -> String {
    let sha = partial.file_stem().unwrap().to_string_lossy().into_owned();
    hub.files
        .iter()
        .find(|(_, bytes)| common::sha256(bytes) == sha)
        .map(|(name, _)| name.clone())
        .expect("a shard's blob")
}

/// kill -9 halfway through a shard: the next start resumes from the bytes on disk (a
/// ranged request) and serves; when those bytes were damaged meanwhile, the sha256 check
/// refuses the file, drops it, and the start after that downloads it whole.
#[test]
fn a_download_killed_with_sigkill_resumes_and_is_verified() {
    for damaged in [false, true] {
        let hub = MockHub::start(0, false);
        let cache = fresh_cache(&format!("hub-sigkill-{damaged}"));
        hub.set_slow(true);
        let mut child = serve_from_hub(&hub, &cache, None);
        let (partial, _) = partial_download(&cache);
        child.kill().unwrap();
        child.wait().unwrap();
        let have = std::fs::metadata(&partial).unwrap().len();
        let shard = shard_of(&hub, &partial);
        assert!(have > 0 && have < hub.files[&shard].len() as u64, "{have}");
        if damaged {
            let mut bytes = std::fs::read(&partial).unwrap();
            bytes[10] ^= 0xff;
            std::fs::write(&partial, bytes).unwrap();
        }
        hub.set_slow(false);
        let mut child = serve_from_hub(&hub, &cache, None);
        let (served, log) = wait_for_serving(&mut child);
        let _ = child.kill();
        let status = child.wait().unwrap();
        let ranged = hub.requests(&format!("GET /cdn/{shard} range=bytes={have}-"));
        assert_eq!(ranged.len(), 1, "{:?}", hub.requests("GET /cdn/"));
        if damaged {
            assert!(!served && !status.success(), "{log}");
            assert!(log.contains("sha256") && log.contains(&shard), "{log}");
            assert!(!partial.exists(), "the damaged bytes are not kept");
            let mut child = serve_from_hub(&hub, &cache, None);
            let (served, log) = wait_for_serving(&mut child);
            let _ = child.kill();
            child.wait().unwrap();
            assert!(served, "{log}");
        } else {
            assert!(served, "{log}");
        }
        let blob = partial.with_extension("");
        assert_eq!(std::fs::read(&blob).unwrap(), hub.files[&shard]);
    }
}

/// A file size limit reached mid-shard (as a full disk would be) ends the start with a
/// message that says so and how to go on; nothing half-written is in the snapshot, and the
/// next start, with room, resumes the shard.
#[test]
fn a_full_disk_is_named_and_leaves_nothing_half_written() {
    let hub = MockHub::start(0, false);
    let cache = fresh_cache("hub-disk-full");
    let largest_small = hub
        .files
        .iter()
        .filter(|(name, _)| !is_lfs(name))
        .map(|(_, b)| b.len())
        .max()
        .unwrap();
    let limit_kib = largest_small / 1024 + 512;
    let too_large = |name: &str| is_lfs(name) && hub.files[name].len() > limit_kib * 1024;
    assert!(hub.files.keys().any(|n| too_large(n)));
    let mut child = serve_from_hub(&hub, &cache, Some(&format!("ulimit -f {limit_kib}")));
    let (served, log) = wait_for_serving(&mut child);
    let status = child.wait().unwrap();
    assert!(!served && !status.success(), "{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("hearth: ")
            && last.contains("the disk is full")
            && last.contains("resumes"),
        "{log}"
    );
    let snapshot = cache
        .join("models--hearth-test--tiny-gqa-tied/snapshots")
        .join(COMMIT);
    for (name, bytes) in &hub.files {
        let linked = snapshot.join(name);
        if too_large(name) {
            assert!(!linked.exists(), "{name} is in the snapshot");
            assert!(!blobs(&cache).join(common::sha256(bytes)).exists());
        }
    }
    let mut child = serve_from_hub(&hub, &cache, None);
    let (served, log) = wait_for_serving(&mut child);
    let _ = child.kill();
    child.wait().unwrap();
    assert!(served, "{log}");
    assert!(
        hub.requests("GET /cdn/")
            .iter()
            .any(|r| r.contains("range=bytes=")),
        "{:?}",
        hub.requests("GET /cdn/")
    );
}

/// A file larger than the disk's free space is refused before any byte is fetched.
#[test]
fn a_file_larger_than_the_free_space_is_refused_before_downloading() {
    let hub = MockHub::start(0, false);
    *hub.state.claimed_size.lock().unwrap() = Some(1 << 60);
    let cache = fresh_cache("hub-no-space");
    let error = Hub::new(hub.settings(&cache))
        .snapshot(REPO, "main")
        .unwrap_err();
    assert!(matches!(error, HubError::NoSpace { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(".safetensors") && message.contains("HF_HUB_CACHE"),
        "{message}"
    );
    assert!(hub.requests("GET /cdn/").is_empty());
}
