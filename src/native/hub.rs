//! Checkpoints from the Hugging Face hub, kept in the hub's own cache layout
//! (`models--ORG--NAME/{blobs,snapshots,refs}`) so hearth, transformers and `hf download`
//! share one copy of each file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::model::{INDEX_FILE, SINGLE_FILE, ShardIndex};
use crate::native::progress;
use crate::text::TextFiles;

/// What `hearth serve` runs when no model is named.
pub const DEFAULT_REPO: &str = "Qwen/Qwen2.5-0.5B-Instruct";
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// The non-weight files a checkpoint is read from; the ones a repo has are fetched.
const CHECKPOINT_FILES: [&str; 5] = [
    "config.json",
    "tokenizer.json",
    TextFiles::OPTIONAL[0],
    TextFiles::OPTIONAL[1],
    TextFiles::OPTIONAL[2],
];
/// Transfers broken off mid-file are resumed this many times before giving up.
const ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(
        "cannot reach {endpoint} ({reason}) and {repo} is not in the cache at {cache}; serve a local checkpoint with `hearth serve --model-dir DIR`, or point HF_ENDPOINT at a reachable mirror"
    )]
    Unreachable {
        endpoint: String,
        reason: String,
        repo: String,
        cache: PathBuf,
    },
    #[error(
        "offline (HF_HUB_OFFLINE) and {repo} at {revision} is not complete in the cache at {cache}; download it once online, or serve a local checkpoint with `hearth serve --model-dir DIR`"
    )]
    NotCached {
        repo: String,
        revision: String,
        cache: PathBuf,
    },
    #[error(
        "{repo} at {revision} was not found on {endpoint} (HTTP {status}); check the name, or set HF_TOKEN if the repository is private or gated"
    )]
    NotFound {
        repo: String,
        revision: String,
        endpoint: String,
        status: u16,
    },
    #[error("{repo}: {reason}")]
    Repo { repo: String, reason: String },
    #[error("{url}: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {reason}")]
    Transfer { url: String, reason: String },
    #[error(
        "{file}: downloaded {got} bytes with sha256 {actual}, the hub lists {size} bytes with sha256 {expected}"
    )]
    Integrity {
        file: String,
        got: u64,
        size: u64,
        actual: String,
        expected: String,
    },
    #[error(
        "{file} needs {needed} more bytes but {dir} has {available} free: free some space (or point HF_HUB_CACHE at a larger disk) and run again"
    )]
    NoSpace {
        file: String,
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error(
        "{path}: {source}: the disk is full (or a file size limit was reached) after {written} bytes; free some space and run again: the download resumes from there"
    )]
    DiskFull {
        path: PathBuf,
        written: u64,
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> HubError + '_ {
    move |source| HubError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where and how to reach the hub, from the variables `huggingface_hub` reads.
#[derive(Clone, Debug, PartialEq)]
pub struct HubSettings {
    pub endpoint: String,
    /// The `hub` cache directory holding the `models--*` folders.
    pub cache: PathBuf,
    pub token: Option<String>,
    pub offline: bool,
}

impl HubSettings {
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// HF_ENDPOINT, HF_HUB_CACHE or HF_HOME (else XDG_CACHE_HOME or ~/.cache), HF_TOKEN or the
    /// token file `hf auth login` writes, HF_HUB_OFFLINE.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let home = var("HF_HOME").map(PathBuf::from).unwrap_or_else(|| {
            var("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".cache")))
                .unwrap_or_else(|| PathBuf::from(".cache"))
                .join("huggingface")
        });
        let token = var("HF_TOKEN").or_else(|| {
            let path = var("HF_TOKEN_PATH")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("token"));
            fs::read_to_string(path)
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
        });
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
        });
        Self {
            endpoint: var("HF_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
                .trim_end_matches('/')
                .to_string(),
            cache: var("HF_HUB_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| home.join("hub")),
            token,
            offline,
        }
    }
}

pub struct Hub {
    settings: HubSettings,
    agent: ureq::Agent,
    /// The metadata request must see the hub's own redirect to read the file's hash and size.
    no_redirects: ureq::Agent,
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        let config = |redirects| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(redirects)
                .timeout_connect(Some(Duration::from_secs(15)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
                .build()
                .new_agent()
        };
        Self {
            settings,
            agent: config(10),
            no_redirects: config(0),
        }
    }

    /// The snapshot directory of `repo` at `revision` with everything hearth reads from it,
    /// downloading what the cache lacks.
    pub fn snapshot(&self, repo: &str, revision: &str) -> Result<PathBuf, HubError> {
        check_repo_name(repo)?;
        let local = RepoCache::new(&self.settings.cache, repo);
        if self.settings.offline {
            return local.complete(revision).ok_or_else(|| HubError::NotCached {
                repo: repo.into(),
                revision: revision.into(),
                cache: self.settings.cache.clone(),
            });
        }
        let info = match self.revision_info(repo, revision) {
            Ok(info) => info,
            Err(HubError::Transfer { reason, .. }) => {
                return match local.complete(revision) {
                    Some(dir) => {
                        tracing::warn!(endpoint = %self.settings.endpoint, %reason, "hub unreachable; using the cached snapshot");
                        Ok(dir)
                    }
                    None => Err(HubError::Unreachable {
                        endpoint: self.settings.endpoint.clone(),
                        reason,
                        repo: repo.into(),
                        cache: self.settings.cache.clone(),
                    }),
                };
            }
            Err(e) => return Err(e),
        };
        let has = |file: &str| info.siblings.iter().any(|s| s.rfilename == file);
        for file in CHECKPOINT_FILES.iter().filter(|f| has(f)) {
            self.fetch(&local, repo, &info.sha, file)?;
        }
        if has(INDEX_FILE) {
            let index = self.fetch(&local, repo, &info.sha, INDEX_FILE)?;
            let index = fs::read(&index).map_err(io_at(&index))?;
            let index = ShardIndex::parse(&index).map_err(|e| HubError::Repo {
                repo: repo.into(),
                reason: e.to_string(),
            })?;
            for shard in index.shards() {
                self.fetch(&local, repo, &info.sha, shard)?;
            }
        } else if has(SINGLE_FILE) {
            self.fetch(&local, repo, &info.sha, SINGLE_FILE)?;
        } else {
            return Err(HubError::Repo {
                repo: repo.into(),
                reason: format!(
                    "no {SINGLE_FILE} or {INDEX_FILE} at {revision}; hearth reads safetensors checkpoints"
                ),
            });
        }
        local.set_ref(revision, &info.sha)?;
        Ok(local.snapshot(&info.sha))
    }

    /// The one `.gguf` file of `repo` at `revision` whose name contains `quant` (any ASCII
    /// case), as llama.cpp's `-hf ORG/NAME:QUANT` picks it, downloading it when the cache
    /// lacks it. The path of the file in the snapshot.
    pub fn gguf(&self, repo: &str, revision: &str, quant: &str) -> Result<PathBuf, HubError> {
        check_repo_name(repo)?;
        let local = RepoCache::new(&self.settings.cache, repo);
        let wanted = |name: &str| {
            name.ends_with(".gguf")
                && name
                    .to_ascii_lowercase()
                    .contains(&quant.to_ascii_lowercase())
        };
        let cached = || {
            let dir = local.commit_dir(revision)?;
            let name = fs::read_dir(&dir)
                .ok()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .find(|n| wanted(n))?;
            Some(dir.join(name))
        };
        if self.settings.offline {
            return cached().ok_or_else(|| HubError::NotCached {
                repo: repo.into(),
                revision: revision.into(),
                cache: self.settings.cache.clone(),
            });
        }
        let info = match self.revision_info(repo, revision) {
            Ok(info) => info,
            Err(HubError::Transfer { reason, .. }) if cached().is_some() => {
                tracing::warn!(endpoint = %self.settings.endpoint, %reason, "hub unreachable; using the cached file");
                return Ok(cached().expect("checked"));
            }
            Err(e) => return Err(e),
        };
        let names: Vec<&str> = info.siblings.iter().map(|s| s.rfilename.as_str()).collect();
        let matching: Vec<&str> = names.iter().copied().filter(|n| wanted(n)).collect();
        let file = match matching.as_slice() {
            [one] if one.contains("-of-") => {
                return Err(HubError::Repo {
                    repo: repo.into(),
                    reason: format!(
                        "{one} is one part of a split GGUF; hearth reads single-file GGUFs"
                    ),
                });
            }
            [one] => *one,
            _ => {
                let ggufs: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|n| n.ends_with(".gguf"))
                    .collect();
                return Err(HubError::Repo {
                    repo: repo.into(),
                    reason: format!(
                        "{} .gguf files have {quant:?} in their name (the repository's .gguf files: {})",
                        matching.len(),
                        if ggufs.is_empty() {
                            "none".to_string()
                        } else {
                            ggufs.join(", ")
                        }
                    ),
                });
            }
        };
        let path = self.fetch(&local, repo, &info.sha, file)?;
        local.set_ref(revision, &info.sha)?;
        Ok(path)
    }

    fn revision_info(&self, repo: &str, revision: &str) -> Result<RevisionInfo, HubError> {
        let url = format!(
            "{}/api/models/{repo}/revision/{revision}",
            self.settings.endpoint
        );
        let mut response = call(self.authorized(self.agent.get(&url)), &url)?;
        match response.status().as_u16() {
            200 => {}
            // The hub answers 401 for a repo that does not exist (it will not say which).
            status @ (401 | 403 | 404) => {
                return Err(HubError::NotFound {
                    repo: repo.into(),
                    revision: revision.into(),
                    endpoint: self.settings.endpoint.clone(),
                    status,
                });
            }
            status => return Err(HubError::Status { url, status }),
        }
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| transfer_error(&url, e))?;
        let info: RevisionInfo = serde_json::from_str(&body).map_err(|e| HubError::Repo {
            repo: repo.into(),
            reason: format!("{url} answered JSON hearth cannot read: {e}"),
        })?;
        if info.sha.len() != 40 || !info.sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HubError::Repo {
                repo: repo.into(),
                reason: format!("{url} gave {:?} as the commit", info.sha),
            });
        }
        Ok(info)
    }

    /// `file` in the snapshot, downloaded into its blob unless the cache has it.
    fn fetch(
        &self,
        local: &RepoCache,
        repo: &str,
        commit: &str,
        file: &str,
    ) -> Result<PathBuf, HubError> {
        let target = local.snapshot(commit).join(file);
        if target.is_file() {
            return Ok(target);
        }
        let url = format!("{}/{repo}/resolve/{commit}/{file}", self.settings.endpoint);
        let meta = self.file_meta(&url)?;
        let blob = local.blob(&meta.etag);
        let cached = fs::metadata(&blob).is_ok_and(|m| meta.size.is_none_or(|s| m.len() == s));
        if !cached {
            self.download(&url, file, &blob, &meta)?;
        }
        local.link(&target, &meta.etag)?;
        Ok(target)
    }

    /// The file's hash (the blob's name) and size, from the hub's answer before any redirect
    /// to the CDN: LFS files carry them in X-Linked-Etag and X-Linked-Size.
    fn file_meta(&self, url: &str) -> Result<FileMeta, HubError> {
        let response = call(self.authorized(self.no_redirects.head(url)), url)?;
        let status = response.status().as_u16();
        if !(200..400).contains(&status) {
            return Err(HubError::Status {
                url: url.into(),
                status,
            });
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header("x-linked-etag")
            .or_else(|| header("etag"))
            .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
            .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .ok_or_else(|| HubError::Transfer {
                url: url.into(),
                reason: "the hub gave no usable ETag for the file".into(),
            })?;
        let size = header("x-linked-size")
            .or_else(|| (status < 300).then(|| header("content-length")).flatten())
            .and_then(|s| s.parse().ok());
        Ok(FileMeta { etag, size })
    }

    /// Downloads into `BLOB.incomplete`, resuming what an earlier run or a broken-off
    /// transfer left there, then checks the size and (for LFS files) the sha256.
    fn download(
        &self,
        url: &str,
        file: &str,
        blob: &Path,
        meta: &FileMeta,
    ) -> Result<(), HubError> {
        let partial = blob.with_extension("incomplete");
        if let Some(dir) = partial.parent() {
            fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        if let (Some(size), Some(dir)) = (meta.size, partial.parent()) {
            let have = fs::metadata(&partial).map_or(0, |m| m.len());
            let needed = size.saturating_sub(have);
            if let Some(available) = free_space(dir).filter(|&free| free < needed) {
                return Err(HubError::NoSpace {
                    file: file.into(),
                    dir: dir.to_path_buf(),
                    needed,
                    available,
                });
            }
        }
        let progress = progress::bytes(file, meta.size);
        let mut last_error = None;
        for attempt in 1..=ATTEMPTS {
            let have = fs::metadata(&partial).map_or(0, |m| m.len());
            if meta.size == Some(have) {
                last_error = None;
                break;
            }
            match self.transfer(url, &partial, have, &progress) {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(
                    e @ (HubError::Status { .. } | HubError::Io { .. } | HubError::DiskFull { .. }),
                ) => return Err(e),
                Err(e) => {
                    tracing::warn!(file, attempt, error = %e, "download broken off; resuming");
                    last_error = Some(e);
                    std::thread::sleep(Duration::from_millis(200 * u64::from(attempt)));
                }
            }
        }
        progress.finish_and_clear();
        if let Some(e) = last_error {
            return Err(e);
        }
        verify(file, &partial, meta)?;
        fs::rename(&partial, blob).map_err(io_at(blob))?;
        tracing::info!(file, bytes = meta.size, "downloaded");
        Ok(())
    }

    /// One GET appending to `partial` from byte `have` on.
    fn transfer(
        &self,
        url: &str,
        partial: &Path,
        have: u64,
        progress: &indicatif::ProgressBar,
    ) -> Result<(), HubError> {
        let mut request = self.authorized(self.agent.get(url));
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let mut response = call(request, url)?;
        let resumed = match response.status().as_u16() {
            206 => true,
            200 => false,
            // Our partial file is not a prefix the server recognizes: start over.
            416 => {
                File::create(partial).map_err(io_at(partial))?;
                return Err(HubError::Transfer {
                    url: url.into(),
                    reason: "the server refused to resume; starting over".into(),
                });
            }
            status => {
                return Err(HubError::Status {
                    url: url.into(),
                    status,
                });
            }
        };
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(partial)
            .map_err(io_at(partial))?;
        progress.set_position(if resumed { have } else { 0 });
        let mut reader = response.body_mut().as_reader();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(transfer_error(url, e)),
            };
            out.write_all(&buffer[..n])
                .map_err(|e| write_error(partial, e))?;
            progress.inc(n as u64);
        }
        out.flush().map_err(|e| write_error(partial, e))
    }

    fn authorized(&self, request: Request) -> Request {
        match &self.settings.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }
}

type Request = ureq::RequestBuilder<ureq::typestate::WithoutBody>;

fn call(request: Request, url: &str) -> Result<ureq::http::Response<ureq::Body>, HubError> {
    request.call().map_err(|e| transfer_error(url, e))
}

fn transfer_error(url: &str, error: impl std::fmt::Display) -> HubError {
    HubError::Transfer {
        url: url.into(),
        reason: error.to_string(),
    }
}

#[derive(serde::Deserialize)]
struct RevisionInfo {
    sha: String,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

#[derive(serde::Deserialize)]
struct Sibling {
    rfilename: String,
}

struct FileMeta {
    etag: String,
    size: Option<u64>,
}

/// A failed write to `partial`: the disk full (or a size limit) told apart, since the user
/// can fix that and resume.
fn write_error(partial: &Path, source: io::Error) -> HubError {
    use io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    if matches!(source.kind(), StorageFull | FileTooLarge | QuotaExceeded) {
        HubError::DiskFull {
            path: partial.to_path_buf(),
            written: fs::metadata(partial).map_or(0, |m| m.len()),
            source,
        }
    } else {
        HubError::Io {
            path: partial.to_path_buf(),
            source,
        }
    }
}

/// Bytes an unprivileged process may still write under `dir`; `None` where unknown.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // Safety: `path` is NUL-terminated and `stat` is written by the call before it is read.
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    // The field types differ between platforms (u32 on macOS).
    #[allow(clippy::useless_conversion)]
    let (blocks, block_size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
    Some(blocks.saturating_mul(block_size))
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// `org/name` (or a legacy bare `name`): it becomes a path and a URL, so nothing else.
fn check_repo_name(repo: &str) -> Result<(), HubError> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '-'])
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    let parts: Vec<&str> = repo.split('/').collect();
    if parts.len() <= 2 && parts.iter().all(|p| part_ok(p)) {
        Ok(())
    } else {
        Err(HubError::Repo {
            repo: repo.into(),
            reason: "not a Hugging Face repository id (expected ORG/NAME, e.g. Qwen/Qwen2.5-0.5B-Instruct)".into(),
        })
    }
}

/// An LFS file's ETag is the sha256 of its bytes: check it, so a corrupt download is never
/// served. Other files (small JSON) are checked by size only.
fn verify(file: &str, partial: &Path, meta: &FileMeta) -> Result<(), HubError> {
    let got = fs::metadata(partial).map_err(io_at(partial))?.len();
    let is_sha256 = meta.etag.len() == 64 && meta.etag.bytes().all(|b| b.is_ascii_hexdigit());
    let actual = if is_sha256 {
        let mut hasher = Sha256::new();
        let mut input = File::open(partial).map_err(io_at(partial))?;
        io::copy(&mut input, &mut hasher).map_err(io_at(partial))?;
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    } else {
        meta.etag.clone()
    };
    if meta.size.is_some_and(|s| s != got) || !actual.eq_ignore_ascii_case(&meta.etag) {
        // A wrong file must not be resumed from either.
        let _ = fs::remove_file(partial);
        return Err(HubError::Integrity {
            file: file.into(),
            got,
            size: meta.size.unwrap_or(got),
            actual,
            expected: meta.etag.clone(),
        });
    }
    Ok(())
}

/// One repository's folder in the cache.
struct RepoCache {
    root: PathBuf,
}

impl RepoCache {
    fn new(cache: &Path, repo: &str) -> Self {
        Self {
            root: cache.join(format!("models--{}", repo.replace('/', "--"))),
        }
    }

    fn snapshot(&self, commit: &str) -> PathBuf {
        self.root.join("snapshots").join(commit)
    }

    fn blob(&self, etag: &str) -> PathBuf {
        self.root.join("blobs").join(etag)
    }

    /// The snapshot directory `revision` (a branch, tag or commit) names, if it is known.
    fn commit_dir(&self, revision: &str) -> Option<PathBuf> {
        let commit = if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
            revision.to_string()
        } else {
            fs::read_to_string(self.root.join("refs").join(revision))
                .ok()?
                .trim()
                .to_string()
        };
        Some(self.snapshot(&commit))
    }

    /// The snapshot `revision` names, if it holds a checkpoint hearth can load: config.json
    /// and all of its weights.
    fn complete(&self, revision: &str) -> Option<PathBuf> {
        let dir = self.commit_dir(revision)?;
        let weights_present = match fs::read(dir.join(INDEX_FILE)) {
            Ok(index) => ShardIndex::parse(&index)
                .ok()?
                .shards()
                .iter()
                .all(|shard| dir.join(shard).is_file()),
            Err(_) => dir.join(SINGLE_FILE).is_file(),
        };
        (dir.join("config.json").is_file() && weights_present).then_some(dir)
    }

    fn set_ref(&self, revision: &str, commit: &str) -> Result<(), HubError> {
        if revision == commit {
            return Ok(());
        }
        let path = self.root.join("refs").join(revision);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        fs::write(&path, commit).map_err(io_at(&path))
    }

    /// Points the snapshot's file at its blob, as the hub's own client does.
    fn link(&self, target: &Path, etag: &str) -> Result<(), HubError> {
        let dir = target.parent().expect("a snapshot file has a folder");
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let _ = fs::remove_file(target);
        #[cfg(unix)]
        let linked = std::os::unix::fs::symlink(Path::new("../../blobs").join(etag), target);
        #[cfg(not(unix))]
        let linked = fs::copy(self.blob(etag), target).map(|_| ());
        linked.map_err(io_at(target))
    }
}
