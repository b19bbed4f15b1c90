//! The `kiln` command line: a thin layer over the library's build, watcher and preview server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use kiln::watch::{self, SiteWatcher};
use kiln::{ApplyReport, BuildFailed, BuildReport, BuildRequest, Change, Engine, build, serve};

// A build allocates many short-lived strings on every thread; glibc's allocator spent a fifth
// of a 1,000-post build growing its arenas, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kiln builds a static blog from markdown into plain HTML.
#[derive(Parser)]
#[command(
    name = "kiln",
    version,
    about = "Kiln builds a static blog from markdown into plain HTML."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render the site into its output folder. A build with errors changes nothing there.
    Build(BuildCommand),
    /// Build, then rebuild whenever content, templates, themes, static files or the config
    /// change. A rebuild with errors leaves the last good output.
    Watch(WatchArgs),
    /// Watch, and serve the output on a local address with live reload. Writes to
    /// <root>/.kiln/serve-<port> unless --output is given, so public/ keeps production URLs
    /// and two servers of one site on different ports do not write over each other.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct BuildCommand {
    #[command(flatten)]
    build: BuildArgs,
    /// Render every output and compare it with the file on disk, instead of trusting what
    /// the last build recorded: for files edited in a way that kept their size and time.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The site root: the folder that holds kiln.toml and content/.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// The output folder [default: <root>/public].
    #[arg(long)]
    output: Option<PathBuf>,
    /// Include pages marked `draft = true`.
    #[arg(long)]
    drafts: bool,
    /// Replace the config's base_url, e.g. https://staging.example.org.
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// The instant that decides which pages are future-dated, as RFC 3339
    /// (e.g. 2024-01-01T00:00:00Z) [default: the clock].
    #[arg(long, env = "KILN_NOW", value_name = "RFC3339")]
    now: Option<DateTime<Utc>>,
}

impl BuildArgs {
    fn request(&self, output: Option<PathBuf>, base_url: Option<String>) -> BuildRequest {
        BuildRequest {
            root: self.root.clone(),
            output,
            drafts: self.drafts,
            base_url,
            now: self.now,
            force: false,
        }
    }
}

#[derive(clap::Args)]
struct WatchArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// How long the files must stay quiet before a rebuild, in milliseconds.
    #[arg(long, env = "KILN_DEBOUNCE_MS", value_name = "MS", default_value_t = 150)]
    debounce: u64,
}

#[derive(clap::Args)]
#[command(
    mut_arg("output", |a| a.help("The output folder [default: <root>/.kiln/serve-<port>]")),
    mut_arg("base_url", |a| a.help("The base URL to build for [default: http://<bind>:<port>]"))
)]
struct ServeArgs {
    #[command(flatten)]
    watch: WatchArgs,
    /// The port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 1111)]
    port: u16,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KILN_LOG")
        // notify reports, at info and warn, that it could not unwatch a folder that is
        // already gone; the watcher handles that, so only its errors are shown.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,notify=error,notify_debouncer_full=error")
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let cli = Cli::parse();
    // Most sites highlight code; loading the grammars takes a core for tens of milliseconds.
    kiln::highlight::preload();
    match cli.command {
        Command::Build(args) => run_build(args),
        Command::Watch(args) => run_watch(args),
        Command::Serve(args) => run_serve(args),
    }
}

fn run_build(command: BuildCommand) -> ExitCode {
    let args = &command.build;
    let request = BuildRequest {
        force: command.force,
        ..args.request(args.output.clone(), args.base_url.clone())
    };
    match build(&request) {
        Ok(report) => {
            print_built("Built", &report);
            ExitCode::SUCCESS
        }
        Err(failed) => {
            print_failure(&failed, "build failed", "the output folder was not changed");
            ExitCode::FAILURE
        }
    }
}

fn run_watch(args: WatchArgs) -> ExitCode {
    let output = args.build.output.clone().unwrap_or_else(|| args.build.root.join("public"));
    let request = args.build.request(Some(output), args.build.base_url.clone());
    let Some((mut engine, mut watcher)) = start(request, args.debounce) else {
        return ExitCode::FAILURE;
    };
    print_watching(&watcher);
    watch_forever(&mut engine, &mut watcher, |_| {})
}

fn run_serve(args: ServeArgs) -> ExitCode {
    let build_args = &args.watch.build;
    let listener = match serve::bind(SocketAddr::new(args.bind, args.port)) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(err) => {
            eprintln!("error: cannot read the address being listened on: {err}");
            return ExitCode::FAILURE;
        }
    };
    let url = serve::local_url(address);
    let output = build_args
        .output
        .clone()
        .unwrap_or_else(|| build_args.root.join(".kiln").join(format!("serve-{}", address.port())));
    let base_url = build_args.base_url.clone().unwrap_or_else(|| url.clone());
    let request = build_args.request(Some(output.clone()), Some(base_url));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kiln-serve")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the HTTP server's runtime: {err}");
            return ExitCode::FAILURE;
        }
    };

    // A port the system picked is another one next time, and so is the output folder named
    // after it: such a folder is removed when the server stops, instead of piling up.
    let forget = (build_args.output.is_none() && args.port == 0).then(|| output.clone());
    let state_dir = build_args.root.join(".kiln");
    // Handled from before the first build on, which a stop may interrupt.
    runtime.spawn(async move {
        stop_signal().await;
        if let Some(output) = forget {
            let removed = tokio::task::spawn_blocking(move || {
                // Waits for a rebuild under way to finish first.
                let _lock = kiln::output::Lock::acquire(&state_dir)?;
                kiln::output::forget(&state_dir, &output).map(|()| output)
            })
            .await
            .unwrap_or_else(|err| Err(std::io::Error::other(err)));
            match removed {
                Ok(output) => println!("Removed {}", output.display()),
                Err(err) => eprintln!("error: cannot remove the served output: {err}"),
            }
        }
        std::process::exit(0);
    });
    let Some((mut engine, mut watcher)) = start(request, args.watch.debounce) else {
        return ExitCode::FAILURE;
    };
    let reload = serve::LiveReload::new();
    let router = serve::router(&output, reload.clone());
    runtime.spawn(async move {
        if let Err(err) = serve::serve(listener, router).await {
            eprintln!("error: the HTTP server stopped: {err}");
            std::process::exit(1);
        }
    });
    println!("Serving {} at {url}/ (live reload on; Ctrl-C to stop)", output.display());
    print_watching(&watcher);
    watch_forever(&mut engine, &mut watcher, |report| {
        if !report.build.write.written.is_empty() || !report.build.write.removed.is_empty() {
            reload.reload();
        }
    })
}

/// Waits for Ctrl-C, or for SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Starts watching, then builds everything once. Watching first means that nothing saved
/// during the first build is missed. A failed first build is reported but not fatal: the next
/// change tries again.
fn start(request: BuildRequest, debounce_ms: u64) -> Option<(Engine, SiteWatcher)> {
    let output = request.output.clone().unwrap_or_else(|| request.root.join("public"));
    let debounce = Duration::from_millis(debounce_ms.max(1));
    let watcher = match SiteWatcher::new(&request.root, &output, debounce) {
        Ok(watcher) => watcher,
        Err(err) => {
            eprintln!("error: {err}");
            return None;
        }
    };
    let mut engine = Engine::new(request);
    match engine.apply(&[]) {
        Ok(report) => print_built("Built", &report.build),
        Err(failed) => {
            print_failure(&failed, "build failed", "fix them and save: the next change rebuilds")
        }
    }
    Some((engine, watcher))
}

fn watch_forever(
    engine: &mut Engine,
    watcher: &mut SiteWatcher,
    mut on_success: impl FnMut(&ApplyReport),
) -> ExitCode {
    let result = watch::run(engine, watcher, |changes, result| match result {
        Ok(report) => {
            print_rebuilt(changes, report);
            on_success(report);
        }
        Err(failed) => {
            let what = format!("rebuild for {} failed", watch::describe(changes));
            print_failure(failed, &what, "the output keeps the last good build");
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn print_watching(watcher: &SiteWatcher) {
    let mut watched: Vec<String> = watcher.watched_dirs().map(|d| format!("{d}/")).collect();
    watched.extend(
        watch::CONFIG_FILES
            .iter()
            .filter(|name| watcher.root().join(name).is_file())
            .map(|name| name.to_string()),
    );
    let later: Vec<String> = watch::SOURCE_DIRS
        .iter()
        .filter(|dir| !watcher.watched_dirs().any(|d| d == **dir))
        .map(|dir| format!("{dir}/"))
        .collect();
    let later = match later.as_slice() {
        [] => String::new(),
        dirs => format!(" (and {} once made)", dirs.join(", ")),
    };
    let root = display(watcher.root());
    println!("Watching {}{later} in {root} for changes", watched.join(", "));
}

fn print_built(verb: &str, report: &BuildReport) {
    for warning in &report.warnings {
        eprintln!("{warning}");
    }
    let write = &report.write;
    println!(
        "{verb} {} pages in {} sections: {} files ({} written, {} unchanged, {} removed) in {:.2} s",
        report.pages,
        report.sections,
        report.outputs,
        write.written.len(),
        write.unchanged,
        write.removed.len(),
        report.elapsed.as_secs_f64()
    );
}

fn print_rebuilt(changes: &[Change], report: &ApplyReport) {
    for warning in &report.build.warnings {
        eprintln!("{warning}");
    }
    let write = &report.build.write;
    println!(
        "Rebuilt for {}: {} written, {} removed in {:.2} s",
        watch::describe(changes),
        write.written.len(),
        write.removed.len(),
        report.elapsed.as_secs_f64()
    );
}

fn print_failure(failed: &BuildFailed, what: &str, consequence: &str) {
    for diagnostic in &failed.diagnostics {
        eprintln!("{diagnostic}");
    }
    let count = failed.errors().count();
    eprintln!("{what} with {count} error{}; {consequence}", if count == 1 { "" } else { "s" });
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
