//! `dl-lab download NAME`: the command's options turned into a [`super::download`] call, with
//! an indicatif bar per file (bytes, rate, ETA) on stderr. Without a terminal the bars are
//! hidden and each event is one plain line instead.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::{cache_dir, download, Dataset, Options, Progress, Summary};
use crate::cli::DownloadArgs;
use crate::{Error, Result};

/// Milliseconds of the first back-off (default 1000); tests set it small.
pub const BACKOFF_ENV: &str = "DL_LAB_DOWNLOAD_BACKOFF_MS";

/// Run `dl-lab download`; returns the lines to print on success (where the files are and how
/// to use them).
pub fn run(args: &DownloadArgs) -> Result<Vec<String>> {
    let dataset = Dataset::known(&args.name).ok_or_else(|| {
        Error::Config(format!(
            "unknown data set {}: dl-lab downloads mnist or fashion-mnist",
            args.name
        ))
    })?;
    let mirrors = if args.mirror.is_empty() {
        dataset.mirrors.clone()
    } else {
        args.mirror.clone()
    };
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => cache_dir(dataset.name)?,
    };
    let mut opts = Options::new(dir.clone(), mirrors);
    if let Some(ms) = std::env::var(BACKOFF_ENV).ok().and_then(|v| v.parse().ok()) {
        opts.backoff = Duration::from_millis(ms);
    }
    let mut bars = Bars::default();
    let summary = download(&dataset.files, &opts, &mut |p| bars.show(p));
    bars.finish();
    let Summary { downloaded, cached } = summary?;
    let data_arg = if args.dir.is_some() {
        dir.display().to_string()
    } else {
        dataset.name.to_string()
    };
    Ok(vec![
        format!(
            "{}: {} files verified in {} ({} downloaded, {} already there)",
            dataset.name,
            downloaded.len() + cached.len(),
            dir.display(),
            downloaded.len(),
            cached.len()
        ),
        format!("use it with --data {data_arg}, e.g. dl-lab run cnn-mnist --data {data_arg}"),
    ])
}

/// The bar of the file being fetched, if any.
#[derive(Default)]
struct Bars {
    bar: Option<ProgressBar>,
}

impl Bars {
    fn show(&mut self, p: Progress) {
        match p {
            Progress::Cached { file, bytes } => self.say(format!(
                "{file}: already downloaded and verified ({bytes} bytes)"
            )),
            Progress::Start { file, url, total } => {
                self.finish();
                let bar = match total {
                    Some(t) => ProgressBar::new(t),
                    None => ProgressBar::no_length(),
                };
                let style = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> ");
                bar.set_style(style);
                bar.set_message(file.clone());
                self.bar = Some(bar);
                self.say(format!("{file}: downloading {url}"));
            }
            Progress::Bytes { done, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(done);
                }
            }
            Progress::Failed {
                file, why, wait, ..
            } => {
                self.finish();
                let next = match wait {
                    Some(w) => format!("; retrying in {:.1} s", w.as_secs_f32()),
                    None => String::new(),
                };
                self.say(format!("{file}: {why}{next}"));
            }
            Progress::Verified { file, bytes } => {
                self.finish();
                self.say(format!("{file}: {bytes} bytes, md5 verified"));
            }
        }
    }

    /// A line above the bar, or on stderr when there is no bar to draw.
    fn say(&self, line: String) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(line),
            _ => eprintln!("{line}"),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
