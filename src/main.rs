//! The `dl-lab` binary: parse the command line and hand over to the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use dl_lab::cli::{Cli, Command};
use dl_lab::{explain, lessons};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_lines(lines: Vec<String>) {
    let mut out = std::io::stdout().lock();
    for l in lines {
        // a closed pipe (e.g. `| head`) is not an error worth reporting
        if writeln!(out, "{l}").is_err() {
            return;
        }
    }
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
            let cfg = args.config(&lesson)?;
            if let Some(t) = args.threads {
                dl_lab::backend::set_threads(t)?;
            }
            let stdout = std::io::stdout();
            match lessons::run_headless(&lesson, &cfg, &mut stdout.lock()) {
                // the reader went away (e.g. `| head`): not an error worth reporting
                Err(dl_lab::Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
        }
        Some(Command::Conv {
            input,
            kernel,
            stride,
            padding,
        }) => print_lines(explain::explain_conv(&input, &kernel, stride, padding)?),
        Some(Command::Pool {
            input,
            size,
            stride,
            mode,
        }) => print_lines(explain::explain_pool(&input, size, stride, mode)?),
        Some(Command::ConvSize {
            input,
            kernel,
            stride,
            padding,
        }) => print_lines(explain::conv_size_explanation(
            input, kernel, stride, padding,
        )?),
        None => {
            dl_lab::tui::check_args(&cli)?;
            if !std::io::stdout().is_terminal() {
                return Err("the lab needs a terminal (stdout is not one). \
                            To run a lesson without the lab, use `dl-lab run LESSON` (see `dl-lab lessons`)."
                    .into());
            }
            dl_lab::tui::run(&cli)?;
        }
    }
    Ok(())
}
