//! `kiln watch` and `kiln serve` as a user runs them: the real binary against a temporary site,
//! edited the way editors edit files, checked through the output folder, over HTTP and in
//! headless Chromium.
//!
//! Nothing here asserts that something happens within a short time: every wait polls for a
//! condition with a generous deadline. The one "nothing more happens" check (exactly one
//! rebuild) waits several debounce periods after the rebuild it expects, so a slow machine can
//! only make it miss an extra rebuild, never report one that did not happen.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{NOW, Site};

/// Long enough for a debug build on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// The debounce the tests run with: longer than the default so that a test thread that is
/// descheduled in the middle of an editor's save does not split it into two bursts.
const DEBOUNCE_MS: u64 = 300;

const POST: &str = "+++\ntitle = \"Post\"\n+++\nOld text of the post.\n";
const NEW_POST: &str = "+++\ntitle = \"Post\"\n+++\nNew text of the post.\n";

/// A running `kiln watch` or `kiln serve`, with every line it printed on stdout and stderr.
struct Kiln {
    child: Child,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
    readers: Vec<JoinHandle<()>>,
}

impl Kiln {
    fn start(site: &Site, command: &str, extra: &[&str]) -> Kiln {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg(command)
            .arg("--root")
            .arg(site.root())
            .args(["--now", NOW, "--debounce", &DEBOUNCE_MS.to_string()])
            .args(extra)
            .env("KILN_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run kiln");
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let readers = vec![read_lines(stdout, lines.clone()), read_lines(stderr, lines.clone())];
        Kiln { child, lines, readers }
    }

    /// Waits until the lines printed so far satisfy `test`, and returns what it returned.
    fn wait_lines<T>(&self, what: &str, test: impl Fn(&[String]) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        let (lines, changed) = &*self.lines;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(found) = test(&guard) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; kiln printed:\n{}",
                guard.join("\n")
            );
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
    }

    /// Waits for a printed line that satisfies `test` and returns it.
    fn wait_line(&self, what: &str, test: impl Fn(&str) -> bool) -> String {
        self.wait_lines(what, |lines| lines.iter().find(|l| test(l)).cloned())
    }

    fn lines(&self) -> Vec<String> {
        self.lines.0.lock().unwrap().clone()
    }

    fn rebuilds(&self) -> Vec<String> {
        self.lines().into_iter().filter(|l| l.starts_with("Rebuilt for")).collect()
    }

    /// Waits until `count` rebuilds have been printed.
    fn wait_rebuilds(&self, count: usize) {
        let what = format!("{count} rebuild line(s)");
        self.wait_lines(&what, |lines| {
            (lines.iter().filter(|l| l.starts_with("Rebuilt for")).count() >= count).then_some(())
        });
    }

    /// The port of a `kiln serve`, from its "Serving … at http://127.0.0.1:PORT/" line.
    fn port(&self) -> u16 {
        let line = self.wait_line("the Serving line", |l| l.starts_with("Serving "));
        let url = line.split(" at ").nth(1).unwrap();
        let port = url.trim_start_matches("http://127.0.0.1:").split('/').next().unwrap();
        port.parse().unwrap_or_else(|_| panic!("no port in {line}"))
    }

    /// Sends the process a signal (`INT`, `TERM`…) with the system's `kill`.
    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("cannot run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit by itself.
    fn wait_exit(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                for reader in self.readers.drain(..) {
                    reader.join().unwrap();
                }
                return (status, self.lines());
            }
            assert!(Instant::now() < deadline, "kiln did not exit:\n{}", self.lines().join("\n"));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Kiln {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_lines(
    stream: impl Read + Send + 'static,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let (store, changed) = &*lines;
            store.lock().unwrap().push(line);
            changed.notify_all();
        }
    })
}

/// Polls `condition` until it holds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Long enough after a rebuild for any second rebuild of the same burst to have been printed.
fn settle() {
    std::thread::sleep(Duration::from_millis(DEBOUNCE_MS * 5 + 1000));
}

/// A site with one post, `content/post.md`, at `/post/`.
fn post_site() -> Site {
    let site = Site::new();
    site.write("content/post.md", POST);
    site
}

/// One HTTP/1.1 GET on a fresh connection: the status and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to kiln serve");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read to the end of the body: Chromium's DevTools server keeps the connection open.
    let mut bytes = Vec::new();
    let mut buf = [0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).unwrap();
        bytes.extend_from_slice(&buf[..n]);
        if n == 0 || body_complete(&bytes) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(body) } else { body.to_string() })
}

fn body_complete(bytes: &[u8]) -> bool {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|length| bytes.len() >= end + 4 + length)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Fetches `path` over and over until stopped, remembering every answer that was not a 200.
struct Poller {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(usize, Vec<String>)>>,
}

impl Poller {
    fn start(port: u16, path: &'static str) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut fetches = 0;
            let mut bad = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                let (status, body) = get(port, path);
                fetches += 1;
                if status != 200 {
                    bad.push(format!("{status}: {}", body.chars().take(200).collect::<String>()));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (fetches, bad)
        });
        Poller { stop, handle: Some(handle) }
    }

    /// Stops polling and returns how many fetches were made and the bad answers.
    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().unwrap().join().unwrap()
    }
}

/// Saves `rel` the way vim does with its default settings, plus the temporary-file rename of
/// other editors (case G14): swap file, the `4913` write probe, the original renamed to a
/// backup, the new text written to a temporary file and renamed onto the original, the backup
/// deleted.
fn vim_save(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    let dir = path.parent().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let swap = dir.join(format!(".{name}.swp"));
    let probe = dir.join("4913");
    let backup = dir.join(format!("{name}~"));
    let temp = dir.join(format!("{name}.tmp"));

    std::fs::write(&swap, b"vim swap").unwrap();
    std::fs::write(&probe, b"").unwrap();
    std::fs::remove_file(&probe).unwrap();
    std::fs::rename(&path, &backup).unwrap();
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, &path).unwrap();
    std::fs::remove_file(&backup).unwrap();
    std::fs::remove_file(&swap).unwrap();
}

/// Runs case G14 for the source `rel` of a served site: one rebuild, the new text on the page,
/// and no answer other than 200 for the page at any time.
fn editor_save_rebuilds_once_without_404(site: &Site, rel: &str, text: &str, expect: &str) {
    let kiln = Kiln::start(site, "serve", &["--port", "0"]);
    let port = kiln.port();
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let (status, body) = get(port, "/post/");
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(expect), "the new text is there before the edit");

    let poller = Poller::start(port, "/post/");
    std::thread::sleep(Duration::from_millis(100));
    vim_save(site.root(), rel, text);
    kiln.wait_rebuilds(1);
    wait_until("the new text on the page", || get(port, "/post/").1.contains(expect));
    settle();
    let (fetches, bad) = poller.finish();

    assert_eq!(kiln.rebuilds().len(), 1, "exactly one rebuild:\n{}", kiln.lines().join("\n"));
    assert!(
        bad.is_empty(),
        "the page was not always served ({} of {fetches}):\n{bad:#?}",
        bad.len()
    );
    assert!(fetches > 10, "the page was polled throughout ({fetches} fetches)");
    let lines = kiln.lines();
    assert!(
        !lines.iter().any(|l| l.contains("error") || l.contains("4913") || l.contains(".swp")),
        "editor files made errors or changes:\n{}",
        lines.join("\n")
    );
    let rebuild = &kiln.rebuilds()[0];
    assert!(rebuild.contains(rel), "the rebuild line names {rel}: {rebuild}");
    for artifact in ["4913", ".swp", "~", ".tmp"] {
        assert!(!rebuild.contains(artifact), "the rebuild line names {artifact}: {rebuild}");
    }
    let served = site.root().join(format!(".kiln/serve-{}", kiln.port()));
    for leftover in ["4913", "post.md~", ".post.md.swp"] {
        assert!(!served.join(leftover).exists(), "{leftover} was copied to the output");
    }
}

#[test]
fn vim_save_of_a_post_while_serving_rebuilds_once_and_never_404s() {
    let site = post_site();
    editor_save_rebuilds_once_without_404(
        &site,
        "content/post.md",
        NEW_POST,
        "New text of the post.",
    );
}

#[test]
fn vim_save_of_kiln_toml_while_serving_rebuilds_once_and_never_404s() {
    let site = post_site();
    let config = "base_url = \"https://example.org\"\ntitle = \"Renamed Blog\"\n";
    editor_save_rebuilds_once_without_404(&site, "kiln.toml", config, "Renamed Blog");
}

#[test]
fn vim_save_of_a_template_while_serving_rebuilds_once_and_never_404s() {
    let site = post_site();
    site.write("templates/page.html", page_template("tpl-v1"));
    editor_save_rebuilds_once_without_404(
        &site,
        "templates/page.html",
        &page_template("tpl-v2"),
        "tpl-v2",
    );
}

fn page_template(marker: &str) -> String {
    format!(
        "<!doctype html><html><head><title>{{{{ page.title }}}}</title></head>\
         <body><p class=\"marker\">{marker}</p>{{{{ page.content | safe }}}}</body></html>\n"
    )
}

#[test]
fn watch_rebuilds_when_a_template_changes() {
    let site = post_site();
    site.write("templates/page.html", page_template("tpl-v1"));
    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let page = site.out().join("post/index.html");
    assert!(read(&page).contains("tpl-v1"));

    site.write("templates/page.html", page_template("tpl-v2"));
    wait_until("the new template in the output", || read(&page).contains("tpl-v2"));
    kiln.wait_rebuilds(1);
    assert!(kiln.rebuilds()[0].contains("templates/page.html"), "{:?}", kiln.rebuilds());
}

#[test]
fn watching_line_left_out_templates_and_static_until_they_existed() {
    let site = post_site();
    let kiln = Kiln::start(&site, "watch", &[]);
    let line = kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    assert!(line.starts_with("Watching content/, kiln.toml (and "), "{line}");
    for later in ["templates/", "themes/", "static/"] {
        assert!(line.contains(later), "{line}");
    }
}

#[test]
fn watch_rebuilds_when_kiln_toml_changes() {
    let site = post_site();
    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let page = site.out().join("post/index.html");
    assert!(!read(&page).contains("Another Title"));

    site.write("kiln.toml", "base_url = \"https://example.org\"\ntitle = \"Another Title\"\n");
    wait_until("the new title in the output", || read(&page).contains("Another Title"));
    kiln.wait_rebuilds(1);
    assert!(kiln.rebuilds()[0].contains("kiln.toml"), "{:?}", kiln.rebuilds());
}

#[test]
fn watch_copies_a_new_static_file_and_removes_a_deleted_one() {
    let site = post_site();
    site.write("static/keep.txt", "keep");
    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));

    site.write("static/files/hello.txt", "hello from static");
    let copied = site.out().join("files/hello.txt");
    wait_until("static/files/hello.txt in the output", || read(&copied) == "hello from static");

    site.remove("static/files/hello.txt");
    wait_until("files/hello.txt gone from the output", || !copied.exists());
    assert_eq!(read(site.out().join("keep.txt")), "keep");
}

#[test]
fn broken_edit_prints_the_error_keeps_the_last_good_output_and_the_fix_rebuilds() {
    let site = post_site();
    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let page = site.out().join("post/index.html");
    let good = read(&page);
    assert!(good.contains("Old text of the post."));

    site.write("content/post.md", "+++\ntitle = \"Post\ndate = 2024-13-45\n+++\nBroken.\n");
    let failed = kiln.wait_line("the failure line", |l| l.contains("failed with"));
    assert!(failed.contains("content/post.md"), "{failed}");
    assert!(failed.contains("last good build"), "{failed}");
    let lines = kiln.lines();
    assert!(
        lines.iter().any(|l| l.starts_with("error") && l.contains("content/post.md")),
        "an error naming the file:\n{}",
        lines.join("\n")
    );
    assert_eq!(read(&page), good, "the output changed after a failed rebuild");
    assert!(kiln.rebuilds().is_empty());

    site.write("content/post.md", NEW_POST);
    wait_until("the fixed text in the output", || read(&page).contains("New text of the post."));
    kiln.wait_rebuilds(1);
}

#[test]
fn content_folder_removed_and_recreated_is_watched_again() {
    let site = post_site();
    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let old_page = site.out().join("post/index.html");
    assert!(old_page.exists());

    std::fs::remove_dir_all(site.root().join("content")).unwrap();
    wait_until("post/ removed from the output", || !old_page.exists());
    kiln.wait_rebuilds(1);

    // Made again with a file in it at once: the new folder's watch may come after the file.
    site.write("content/again.md", "+++\ntitle = \"Again\"\n+++\nBack again.\n");
    let page = site.out().join("again/index.html");
    wait_until("again/ in the output", || read(&page).contains("Back again."));

    // And edits inside the new folder are seen.
    site.write("content/again.md", "+++\ntitle = \"Again\"\n+++\nEdited in the new folder.\n");
    wait_until("the edit in the output", || read(&page).contains("Edited in the new folder."));
}

#[cfg(unix)]
#[test]
fn edits_inside_symlinked_content_folders_rebuild() {
    let site = post_site();
    let elsewhere = tempfile::tempdir().unwrap();
    let notes = elsewhere.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("n.md"), "+++\ntitle = \"Note\"\n+++\nFirst note.\n").unwrap();
    std::os::unix::fs::symlink(&notes, site.root().join("content/notes")).unwrap();

    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let note = site.out().join("notes/n/index.html");
    assert!(read(&note).contains("First note."), "the build follows the symlink");

    // An edit made through the link's target, not through the link.
    std::fs::write(notes.join("n.md"), "+++\ntitle = \"Note\"\n+++\nEdited note.\n").unwrap();
    wait_until("the edited note in the output", || read(&note).contains("Edited note."));

    // A symlinked folder that appears while watching is followed too.
    let more = elsewhere.path().join("more");
    std::fs::create_dir_all(&more).unwrap();
    std::fs::write(more.join("m.md"), "+++\ntitle = \"More\"\n+++\nMore text.\n").unwrap();
    std::os::unix::fs::symlink(&more, site.root().join("content/more")).unwrap();
    let page = site.out().join("more/m/index.html");
    wait_until("the linked folder's page", || read(&page).contains("More text."));
    std::fs::write(more.join("m.md"), "+++\ntitle = \"More\"\n+++\nMore, edited.\n").unwrap();
    wait_until("the edit in the linked folder", || read(&page).contains("More, edited."));
}

#[test]
fn serve_writes_to_its_own_folder_with_the_local_base_url_and_leaves_public_alone() {
    let site = post_site();
    let kiln = Kiln::start(&site, "serve", &["--port", "0"]);
    let port = kiln.port();
    let served = read(site.root().join(format!(".kiln/serve-{port}/post/index.html")));
    assert!(served.contains(&format!("http://127.0.0.1:{port}/")), "{served}");
    assert!(!served.contains("__kiln/livereload"), "the script is not written to disk");
    assert!(!site.out().exists(), "serve wrote to public/");

    let (status, body) = get(port, "/post/");
    assert_eq!(status, 200);
    assert!(body.contains("Old text of the post."));
    assert!(body.contains(kiln::serve::RELOAD_SCRIPT), "the live-reload script is served");
    let (_, css) = get(port, "/style.css");
    assert!(!css.contains("EventSource"), "the script goes into HTML only");
}

#[test]
fn missing_page_gets_the_sites_404_page_with_status_404() {
    let site = post_site();
    let kiln = Kiln::start(&site, "serve", &["--port", "0"]);
    let port = kiln.port();
    let (status, body) = get(port, "/no/such/page/");
    assert_eq!(status, 404);
    assert!(body.contains("Page not found"), "{body}");
    assert!(body.contains("__kiln/livereload"), "a 404 page reloads too");
}

#[test]
fn live_reload_endpoint_sends_reload_after_a_rebuild() {
    let site = post_site();
    let kiln = Kiln::start(&site, "serve", &["--port", "0"]);
    let port = kiln.port();
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "GET /__kiln/livereload HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut seen = Vec::new();
    let mut next_line = |seen: &mut Vec<String>| {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read the event stream");
        assert!(!line.is_empty(), "the event stream ended:\n{}", seen.join(""));
        seen.push(line.clone());
        line
    };
    while !next_line(&mut seen).starts_with("event: hello") {}
    assert!(seen[0].starts_with("HTTP/1.1 200"), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.to_ascii_lowercase().starts_with("content-type: text/event-stream"))
    );

    site.write("content/post.md", NEW_POST);
    while !next_line(&mut seen).starts_with("event: reload") {}
    kiln.wait_rebuilds(1);
    assert!(get(port, "/post/").1.contains("New text of the post."));
}

#[test]
fn serve_refuses_a_port_in_use_with_a_clear_error() {
    let site = post_site();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (status, lines) = Kiln::start(&site, "serve", &["--port", &port]).wait_exit();
    assert!(!status.success());
    let text = lines.join("\n");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("already in use") && text.contains("--port"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Headless Chromium over the DevTools protocol.

/// A child process killed when dropped, even by a panic halfway through setting it up.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Browser {
    _child: KillOnDrop,
    _profile: tempfile::TempDir,
    socket: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    /// Starts headless Chromium, or returns `None` when it is not installed and this is not
    /// CI (`scripts/test` installs it; on CI a missing browser is a failure).
    fn launch() -> Option<Browser> {
        let profile = tempfile::tempdir().unwrap();
        let binary = std::env::var("KILN_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let spawned = Command::new(binary)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"])
            .args(["--disable-extensions", "--remote-debugging-port=0"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => KillOnDrop(child),
            Err(err) if std::env::var_os("CI").is_none() => {
                eprintln!("skipped: cannot run chromium ({err}); run scripts/install-test-deps");
                return None;
            }
            Err(err) => panic!("cannot run chromium: {err}; run scripts/install-test-deps"),
        };
        let port_file = profile.path().join("DevToolsActivePort");
        let mut port = 0;
        wait_until("chromium's DevTools port", || {
            port = read(&port_file).lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
            port != 0
        });
        let mut url = String::new();
        wait_until("a page target", || {
            let (_, list) = get(port, "/json/list");
            let targets: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
            let page = targets.as_array().and_then(|t| t.iter().find(|t| t["type"] == "page"));
            url = page.and_then(|p| p["webSocketDebuggerUrl"].as_str()).unwrap_or("").to_string();
            !url.is_empty()
        });
        let (socket, _) = tungstenite::connect(url.as_str()).expect("DevTools WebSocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        Some(Browser { _child: child, _profile: profile, socket, next_id: 0 })
    }

    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = serde_json::json!({"id": id, "method": method, "params": params});
        self.socket.send(tungstenite::Message::text(request.to_string())).unwrap();
        loop {
            let tungstenite::Message::Text(text) = self.socket.read().unwrap() else { continue };
            let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let params = serde_json::json!({"expression": expression, "returnByValue": true});
        self.call("Runtime.evaluate", params)["result"]["value"].clone()
    }

    fn wait_for(&mut self, condition: &str) {
        let deadline = Instant::now() + DEADLINE;
        while self.eval(condition) != serde_json::Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {condition}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn open_page_in_chromium_reloads_itself_after_its_file_changes() {
    let site = post_site();
    let kiln = Kiln::start(&site, "serve", &["--port", "0"]);
    let port = kiln.port();
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));

    let Some(mut browser) = Browser::launch() else { return };
    browser.call(
        "Page.navigate",
        serde_json::json!({"url": format!("http://127.0.0.1:{port}/post/")}),
    );
    browser.wait_for("document.readyState === 'complete' && document.body.innerText.includes('Old text of the post.')");
    // Connected to the reload stream, and marked, so that a reload shows as the mark gone.
    browser.wait_for("!!window.__kilnLiveReload && window.__kilnLiveReload.readyState === 1");
    browser.eval("window.beforeTheEdit = true");

    site.write("content/post.md", NEW_POST);
    browser.wait_for(
        "window.beforeTheEdit === undefined && document.readyState === 'complete' \
         && document.body.innerText.includes('New text of the post.')",
    );
    assert_eq!(browser.eval("location.pathname"), "/post/");
    kiln.wait_rebuilds(1);
}

#[test]
fn watch_misses_edits_to_the_target_of_a_symlinked_file() {
    let site = post_site();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("linked.md");
    std::fs::write(&target, "+++\ntitle = \"Linked\"\n+++\nFirst version.\n").unwrap();
    std::os::unix::fs::symlink(&target, site.root().join("content/linked.md")).unwrap();
    let config = elsewhere.path().join("site.toml");
    std::fs::write(&config, "base_url = \"https://example.org\"\ntitle = \"Linked Site\"\n")
        .unwrap();
    std::fs::remove_file(site.root().join("kiln.toml")).unwrap();
    std::os::unix::fs::symlink(&config, site.root().join("kiln.toml")).unwrap();

    let kiln = Kiln::start(&site, "watch", &[]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    let page = site.out().join("linked/index.html");
    assert!(read(&page).contains("First version."), "the build reads through the link");

    // An edit of the target, in place.
    std::fs::write(&target, "+++\ntitle = \"Linked\"\n+++\nSecond version.\n").unwrap();
    wait_until("the edited target in the output", || read(&page).contains("Second version."));

    // A save by rename over the target, as vim does.
    let temp = elsewhere.path().join("linked.md.new");
    std::fs::write(&temp, "+++\ntitle = \"Linked\"\n+++\nThird version.\n").unwrap();
    std::fs::rename(&temp, &target).unwrap();
    wait_until("the renamed-over target in the output", || read(&page).contains("Third version."));

    // The config's target.
    std::fs::write(&config, "base_url = \"https://example.org\"\ntitle = \"Renamed Site\"\n")
        .unwrap();
    wait_until("the linked config's new title", || read(&page).contains("Renamed Site"));
}

#[test]
fn serve_on_a_port_the_system_picks_leaves_no_output_folder_behind_when_stopped() {
    for signal in ["INT", "TERM"] {
        let site = post_site();
        let kiln = Kiln::start(&site, "serve", &["--port", "0"]);
        let port = kiln.port();
        kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
        let served = site.root().join(format!(".kiln/serve-{port}"));
        assert!(served.join("post/index.html").is_file(), "the site was built into {served:?}");
        let kept = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "lock")
                .collect();
            names.sort();
            names
        };
        assert!(kept(&site.root().join(".kiln")).iter().any(|n| n.starts_with("record-")));

        kiln.signal(signal);
        let (status, lines) = kiln.wait_exit();
        assert!(status.success(), "kiln serve exited with {status} on SIG{signal}");
        let removed = format!("Removed {}", served.display());
        assert!(lines.iter().any(|l| l.contains(&removed)), "{removed}?\n{}", lines.join("\n"));
        assert!(!served.exists(), "{served:?} is left after SIG{signal}");
        // Nothing else of that server is left in .kiln either.
        assert_eq!(kept(&site.root().join(".kiln")), Vec::<String>::new(), "after SIG{signal}");
    }
}

#[test]
fn serve_on_a_chosen_port_keeps_its_output_folder_for_the_next_start() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let site = post_site();
    let kiln = Kiln::start(&site, "serve", &["--port", &port.to_string()]);
    kiln.wait_line("the Watching line", |l| l.starts_with("Watching "));
    kiln.signal("INT");
    let (status, lines) = kiln.wait_exit();
    assert!(status.success(), "kiln serve exited with {status}");
    assert!(!lines.iter().any(|l| l.starts_with("Removed ")), "{}", lines.join("\n"));
    let served = site.root().join(format!(".kiln/serve-{port}"));
    assert!(served.join("post/index.html").is_file(), "{served:?} was kept");
}
