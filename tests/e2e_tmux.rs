//! End to end: drive the real `dl-lab` binary in a detached tmux session of
//! fixed size — start it, read the screen, press keys, check what changed,
//! quit, and check the exit status and that the terminal was given back.
//!
//! Skips (with the reason printed) when tmux is not installed, unless
//! DL_LAB_REQUIRE_TMUX=1 (set by .ci/run), which turns the skip into a failure.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dl-lab");

struct Tmux {
    socket: String,
    status_file: PathBuf,
    /// An empty config directory of its own (DL_LAB_CONFIG_DIR), so the
    /// developer's remembered lesson is never read or written.
    config_dir: PathBuf,
}

fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if common::required("TMUX") {
            panic!("tmux is required (DL_LAB_REQUIRE_TMUX=1) but not installed");
        }
        skip_note!("skipped: tmux is not installed (apt-get install tmux)");
    }
    ok
}

impl Tmux {
    /// Start `dl-lab ARGS` in a cols×rows session; its exit status goes to a file.
    fn start(name: &str, args: &str, cols: u16, rows: u16) -> Tmux {
        let socket = format!("dl-lab-e2e-{name}-{}", std::process::id());
        let status_file = std::env::temp_dir().join(format!("{socket}.status"));
        let _ = std::fs::remove_file(&status_file);
        let config_dir = std::env::temp_dir().join(format!("{socket}.config"));
        let _ = std::fs::remove_dir_all(&config_dir);
        // the shell waits after dl-lab ends, so the screen it left can be read
        let cmd = format!(
            "TERM=xterm-256color DL_LAB_CONFIG_DIR={} {BIN} {args}; echo $? > {}; sleep 60",
            config_dir.display(),
            status_file.display()
        );
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                &cols.to_string(),
                "-y",
                &rows.to_string(),
            ])
            .args(["sh", "-c", &cmd])
            .status()
            .expect("run tmux")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux {
            socket,
            status_file,
            config_dir,
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", k]);
        }
    }

    /// Poll the screen until `want` appears (or fail with the screen shown).
    fn wait_for(&self, want: &str, secs: u64) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(want) {
                return s;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("waited {secs}s for {want:?}; the screen was:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait for the program to end; its exit status.
    fn exit_status(&self, secs: u64) -> i32 {
        let start = Instant::now();
        loop {
            if let Ok(s) = std::fs::read_to_string(&self.status_file) {
                if let Ok(code) = s.trim().parse() {
                    return code;
                }
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!(
                    "dl-lab did not exit within {secs}s; the screen was:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        let _ = std::fs::remove_file(&self.status_file);
        let _ = std::fs::remove_dir_all(&self.config_dir);
    }
}

#[test]
fn gd_scalar_steps_and_quits_cleanly() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("gd", "--lesson gd-scalar", 100, 30);
    // a small lesson's fourth pane is its computational graph
    let first = t.wait_for("Graph", 10);
    for title in ["Dataset", "Model", "Loss", "Graph: values & gradients"] {
        assert!(first.contains(title), "pane {title} missing:\n{first}");
    }
    assert!(
        first.contains("lr 0.1"),
        "status line shows the learning rate:\n{first}"
    );

    t.keys(&["Space"]);
    t.wait_for("4.600", 5); // x: 5 - 0.1·4 = 4.6

    t.keys(&["+"]);
    t.wait_for("lr 0.3", 5);

    t.keys(&["?"]);
    t.wait_for("Keys", 5);
    t.keys(&["Escape"]);

    t.keys(&["q"]);
    assert_eq!(t.exit_status(10), 0, "dl-lab exits with status 0 on q");
    let after = t.screen();
    assert!(
        !after.contains("Graph: values"),
        "the alternate screen was left on quit:\n{after}"
    );
}

/// The first start (nothing remembered) opens on the lesson list at 80×24;
/// Down ×3 and Enter open linear, and the next start goes straight back to it.
#[test]
fn first_start_shows_the_lesson_list_and_the_next_start_remembers() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("first", "", 80, 24);
    let list = t.wait_for("start here", 10);
    for want in [
        "1. tensor-basics",
        "2. gd-scalar",
        "13. cnn-mnist",
        "What to watch in tensor-basics",
    ] {
        assert!(list.contains(want), "{want:?} missing:\n{list}");
    }
    t.keys(&["Down", "Down", "Down", "Enter"]); // 4. linear
    t.wait_for("opened lesson linear", 5);
    t.keys(&["q"]);
    assert_eq!(t.exit_status(10), 0);
    let remembered = std::fs::read_to_string(t.config_dir.join("last-lesson"))
        .expect("the lab remembers the lesson");
    assert_eq!(remembered.trim(), "linear");

    // a second lab with the same config directory opens on linear, no list
    let socket2 = format!("{}-again", t.socket);
    let t2 = Tmux {
        socket: socket2.clone(),
        status_file: std::env::temp_dir().join(format!("{socket2}.status")),
        config_dir: std::env::temp_dir().join(format!("{socket2}.config")),
    };
    std::fs::create_dir_all(&t2.config_dir).expect("temp config dir");
    std::fs::write(t2.config_dir.join("last-lesson"), "linear\n").expect("write");
    let cmd = format!(
        "TERM=xterm-256color DL_LAB_CONFIG_DIR={} {BIN}; echo $? > {}; sleep 60",
        t2.config_dir.display(),
        t2.status_file.display()
    );
    let ok = Command::new("tmux")
        .args(["-L", &socket2, "new-session", "-d", "-x", "80", "-y", "24"])
        .args(["sh", "-c", &cmd])
        .status()
        .expect("run tmux")
        .success();
    assert!(ok);
    let s = t2.wait_for("Graph", 10);
    assert!(!s.contains("start here"), "no list the second time:\n{s}");
    assert!(s.contains(" linear "), "opens on linear:\n{s}");
    t2.keys(&["q"]);
    assert_eq!(t2.exit_status(10), 0);
}

#[test]
fn a_first_timer_at_80x24_finds_help_quit_and_the_hidden_layers() {
    if !tmux_available() {
        return;
    }
    // (its own session name: the lesson-list test runs in parallel as "first")
    let t = Tmux::start("first80", "--lesson cnn-mnist", 80, 24);
    let first = t.wait_for("q quit", 10);
    let status = first.lines().nth(23).unwrap_or_default();
    assert!(
        status.trim_end().ends_with("? help  q quit"),
        "status line: {status:?}\n{first}"
    );
    assert!(
        first.contains("▼ 3 more"),
        "the Model pane says layers are hidden:\n{first}"
    );
    // the help shows the focused pane's keys first and scrolls
    t.keys(&["Tab", "?"]);
    let help = t.wait_for("Model pane", 5);
    assert!(help.contains("▼"), "{help}");
    t.keys(&["PageDown", "PageDown"]);
    t.wait_for("quit (also while training)", 5);
    t.keys(&["Escape", "q"]);
    assert_eq!(t.exit_status(10), 0);
}

#[test]
fn training_starts_and_quit_stops_it() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("train", "--lesson softmax-mnist", 100, 30);
    t.wait_for("Conv/Pool", 10);
    t.keys(&["s"]);
    t.wait_for("training", 10);
    // quitting while the worker trains ends promptly and cleanly
    t.keys(&["q"]);
    assert_eq!(t.exit_status(10), 0);
}

#[test]
fn tiny_terminal_says_so() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("small", "", 40, 10);
    t.wait_for("terminal too small", 10);
    t.keys(&["q"]);
    assert_eq!(t.exit_status(10), 0);
}

#[test]
fn not_a_terminal_points_to_run() {
    let out = Command::new(BIN)
        .env(
            "DL_LAB_CONFIG_DIR",
            std::env::temp_dir().join("dl-lab-e2e-no-config"),
        )
        .output()
        .expect("run dl-lab");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dl-lab run"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_data_dir_gives_the_terminal_back_with_an_error() {
    if !tmux_available() {
        return;
    }
    let missing = std::env::temp_dir().join(format!("dl-lab-no-such-dir-{}", std::process::id()));
    let t = Tmux::start("baddata", &format!("--data {}", missing.display()), 100, 30);
    let code = t.exit_status(10);
    assert_ne!(code, 0, "a missing data directory is an error");
    let screen = t.wait_for("error:", 5);
    assert!(
        screen.contains("dl-lab-no-such-dir"),
        "the error names the directory:\n{screen}"
    );
    assert!(
        !screen.contains("Conv/Pool"),
        "the alternate screen was left:\n{screen}"
    );
}

#[test]
fn status_line_names_the_device() {
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("device", "--device cpu --lesson cnn-mnist", 100, 30);
    let screen = t.wait_for("Conv/Pool", 10);
    assert!(
        screen.contains(" cnn-mnist  cpu │ lr 0.001"),
        "status line names the device:\n{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.exit_status(10), 0);
}

#[test]
fn a_device_that_cannot_open_gives_the_terminal_back_with_an_error() {
    if !tmux_available() {
        return;
    }
    // no machine has 100 OpenCL devices: "no driver" or "no device opencl:99"
    let t = Tmux::start("nodevice", "--device opencl:99", 100, 30);
    assert_eq!(t.exit_status(15), 1, "{}", t.screen());
    let screen = t.wait_for("error: --device opencl:99: OpenCL", 5);
    assert!(!screen.contains("panicked"), "{screen}");
    assert!(
        !screen.contains("Conv/Pool"),
        "the alternate screen was left:\n{screen}"
    );
}

#[test]
fn an_abort_gives_the_terminal_back() {
    // An allocation failure aborts without unwinding (no panic hook, no
    // drop): the SIGABRT handler must still leave the alternate screen and
    // raw mode. With the default device, which loads any OpenCL driver
    // (PoCL installs its own SIGABRT handler when it loads).
    if !tmux_available() {
        return;
    }
    let t = Tmux::start("abort", "--lesson gd-scalar", 80, 24);
    t.wait_for("q quit", 10);
    let shell: u32 = t
        .tmux(&["display", "-p", "#{pane_pid}"])
        .trim()
        .parse()
        .expect("pane pid");
    // the shell's child named dl-lab, from /proc (no pgrep needed)
    let pid = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // pid (comm) state ppid …
            let (comm, rest) = stat.split_once(") ")?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (comm.ends_with("(dl-lab") && ppid == shell).then(|| e.file_name())
        })
        .next()
        .expect("dl-lab runs under the pane's shell")
        .to_string_lossy()
        .into_owned();
    let killed = Command::new("kill")
        .args(["-ABRT", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(t.exit_status(10), 134, "ends with SIGABRT's status");
    // the main screen is back: the lab's panes are gone
    let screen = t.screen();
    assert!(
        !screen.contains("q quit"),
        "still in the alternate screen:\n{screen}"
    );
}

#[test]
fn status_line_names_an_opencl_device_briefly_at_80_columns() {
    if !tmux_available() || common::opencl_device().is_none() {
        return;
    }
    let t = Tmux::start("oclstatus", "--lesson cnn-mnist --device opencl", 80, 24);
    let screen = t.wait_for("q quit", 15);
    let status = screen.lines().nth(23).unwrap_or_default();
    assert!(
        status.contains(" opencl:0 │ lr 0.001") && status.trim_end().ends_with("? help  q quit"),
        "status line: {status:?}\n{screen}"
    );
    t.keys(&["q"]);
    assert_eq!(t.exit_status(10), 0);
}
