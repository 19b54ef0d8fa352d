//! The `dl-lab` binary: parse the command line and hand over to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use dl_lab::backend::{Device, DeviceSpec};
use dl_lab::cli::{BenchArgs, Cli, Command};
use dl_lab::{bench, devices, explain, lessons};

fn main() -> ExitCode {
    // every training batch reallocates the same activations: keep freed
    // memory mapped (allocator tuning, set once for the whole process)
    dl_lab::backend::cpu::retain_freed_memory();
    let cli = Cli::parse_checked();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Print lines; false once the reader has gone (e.g. `| head`), which is
/// not an error worth reporting.
fn print_lines(lines: impl IntoIterator<Item = String>) -> bool {
    let mut out = std::io::stdout().lock();
    lines.into_iter().all(|l| writeln!(out, "{l}").is_ok())
}

/// Open `--device`; `auto`'s note (it fell back to the CPU) goes to stderr once.
fn open_device(spec: DeviceSpec) -> Result<Device, Box<dyn std::error::Error>> {
    let (device, note) = spec.open().map_err(|e| format!("--device {spec}: {e}"))?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    Ok(device)
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Some(Command::Lessons) => {
            for l in lessons::all() {
                println!("{:<16} {}", l.name, l.summary);
            }
        }
        Some(Command::Run(args)) => {
            let lesson = lessons::find(&args.lesson)?;
            let files = args.files(&lesson)?;
            let cfg = args.config_from(&lesson, files.defaults(&lesson))?;
            if let Some(t) = args.threads {
                dl_lab::backend::set_threads(t)?;
            }
            let device = if lesson.is_classifier() {
                open_device(args.device)?
            } else {
                if let DeviceSpec::OpenCl(_) = args.device {
                    eprintln!(
                        "note: lesson {} runs on the CPU engine (the small lessons always do; \
                         --device is for softmax-mnist and cnn-mnist)",
                        lesson.name
                    );
                }
                Device::Cpu
            };
            let stdout = std::io::stdout();
            match lessons::run_headless_with(&lesson, &cfg, &device, &files, &mut stdout.lock()) {
                // the reader went away (e.g. `| head`): not an error worth reporting
                Err(dl_lab::Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
        }
        Some(Command::Eval(args)) => {
            let lesson = lessons::find(&args.lesson)?;
            lessons::files::classifier_model(&lesson, "eval")?;
            let device = open_device(args.device)?;
            let r = lessons::files::eval(&lesson, &args.load, args.data.as_deref(), &device)?;
            lessons::files::write_eval(&r, args.json, &mut std::io::stdout().lock())?;
        }
        Some(Command::Export { checkpoint, out }) => {
            println!("{}", lessons::files::export(&checkpoint, &out)?);
        }
        Some(Command::Tensor { file, code }) => run_tensor(file, code)?,
        Some(Command::Code(args)) => {
            let lesson = lessons::find(&args.lesson)?;
            let cfg = args.config(&lesson)?;
            print!("{}", dl_lab::code::python_script(&lesson, &cfg)?);
        }
        Some(Command::Devices) => {
            print_lines(devices::report());
        }
        Some(Command::Bench(args)) => run_bench(args)?,
        Some(Command::Download(args)) => {
            print_lines(dl_lab::data::download::cli::run(&args)?);
        }
        Some(Command::Conv {
            input,
            kernel,
            stride,
            padding,
        }) => {
            print_lines(explain::explain_conv(&input, &kernel, stride, padding)?);
        }
        Some(Command::Pool {
            input,
            size,
            stride,
            mode,
        }) => {
            print_lines(explain::explain_pool(&input, size, stride, mode)?);
        }
        Some(Command::ConvSize {
            input,
            kernel,
            stride,
            padding,
        }) => {
            print_lines(explain::conv_size_explanation(
                input, kernel, stride, padding,
            )?);
        }
        None => {
            let options = dl_lab::tui::LabOptions::from(&cli);
            dl_lab::tui::check_args(&options)?;
            let term = std::env::var("TERM").ok();
            if let Some(why) = dl_lab::tui::terminal_refusal(term.as_deref()) {
                return Err(why.into());
            }
            if !std::io::stdout().is_terminal() {
                return Err("the lab needs a terminal (stdout is not one). \
                            To run a lesson without the lab, use `dl-lab run LESSON` (see `dl-lab lessons`)."
                    .into());
            }
            dl_lab::tui::run(&options)?;
        }
    }
    Ok(())
}

/// `dl-lab bench`: print each figure as soon as it is measured.
fn run_bench(args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(t) = args.threads {
        dl_lab::backend::set_threads(t)?;
    }
    let cfg = bench::BenchConfig {
        device: open_device(args.device)?,
        only: args.only,
        data: args.data,
        quick: args.quick,
        full_epoch: args.full_epoch,
    };
    if !args.json && !print_lines(bench::header(&cfg.device)) {
        return Ok(());
    }
    let mut reader_gone = false;
    let result = bench::run(&cfg, |f| {
        let line = if args.json {
            f.json(&cfg.device).to_string()
        } else {
            f.row()
        };
        if !print_lines([line]) {
            reader_gone = true;
            // stop measuring: nobody reads the rest
            return Err(dl_lab::Error::Config("stdout closed".into()));
        }
        Ok(())
    });
    match result {
        Err(_) if reader_gone => Ok(()),
        other => Ok(other?),
    }
}

/// `dl-lab tensor`: FILE, -e CODE, or standard input (a prompt on a terminal).
fn run_tensor(
    file: Option<std::path::PathBuf>,
    code: Option<String>,
) -> Result<(), Box<dyn std::error::Error>> {
    use dl_lab::script;
    let (src, name) = match (file, code) {
        (Some(path), _) => (
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        (None, Some(code)) => (code, "-e".to_string()),
        (None, None) if std::io::stdin().is_terminal() => {
            let stdin = std::io::stdin();
            script::prompt(
                &mut stdin.lock(),
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )?;
            return Ok(());
        }
        (None, None) => {
            let mut src = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut src)?;
            (src, "<stdin>".to_string())
        }
    };
    let mut scope = script::Scope::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    script::run(&src, &mut scope, &mut out, &mut std::io::stderr())
        .map_err(|e| format!("{name}, {e}"))?;
    Ok(())
}
