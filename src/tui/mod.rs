//! The lab in the terminal (in progress).

/// Open the lab.
pub fn run(_cli: &crate::cli::Cli) -> Result<(), Box<dyn std::error::Error>> {
    Err("the terminal lab is not built yet; use `dl-lab run LESSON`".into())
}
