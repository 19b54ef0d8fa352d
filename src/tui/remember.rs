//! The lab remembers the last lesson opened, in one small text file in the
//! user's config directory, and opens there next time: `$DL_LAB_CONFIG_DIR`
//! (tests point it at a temp dir), else `$XDG_CONFIG_HOME/dl-lab`, else
//! `~/.config/dl-lab` (the XDG base-directory defaults).
//!
//! Remembering is a convenience, never a reason to fail: a missing,
//! unreadable, unwritable or corrupt file (an unknown lesson name, binary
//! junk) is ignored and the lab starts on the lesson list.

use std::path::{Path, PathBuf};

use crate::lessons::{self, Lesson};

/// The environment variable that overrides the config directory.
pub const CONFIG_DIR_ENV: &str = "DL_LAB_CONFIG_DIR";

/// The file, inside the config directory, holding the last lesson's name.
pub const LAST_LESSON_FILE: &str = "last-lesson";

/// The lab's config directory, or None when no home is known.
pub fn config_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(CONFIG_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(xdg).join("dl-lab"));
    }
    var("HOME").map(|h| PathBuf::from(h).join(".config").join("dl-lab"))
}

/// The lesson remembered in `dir`, if the file is there and names one.
pub fn load_from(dir: &Path) -> Option<Lesson> {
    let bytes = std::fs::read(dir.join(LAST_LESSON_FILE)).ok()?;
    let name = String::from_utf8(bytes).ok()?;
    lessons::find(name.trim()).ok()
}

/// Remember `name` in `dir`; false (and nothing else) when it cannot be written.
pub fn save_to(dir: &Path, name: &str) -> bool {
    std::fs::create_dir_all(dir).is_ok()
        && std::fs::write(dir.join(LAST_LESSON_FILE), format!("{name}\n")).is_ok()
}

/// The remembered lesson, from [`config_dir`].
pub fn load() -> Option<Lesson> {
    load_from(&config_dir()?)
}

/// Remember `name` in [`config_dir`] (quietly does nothing if it cannot).
pub fn save(name: &str) {
    if let Some(dir) = config_dir() {
        save_to(&dir, name);
    }
}

/// Where the lab starts: the lesson to open and whether the lesson list
/// opens over it. `--lesson` wins; else the remembered lesson; else the
/// first lesson of the course with the list open, so a first-timer sees
/// the course and where to start.
pub fn start(named: Option<&str>, remembered: Option<Lesson>) -> crate::Result<(Lesson, bool)> {
    if let Some(name) = named {
        return Ok((lessons::find(name)?, false));
    }
    if let Some(l) = remembered {
        return Ok((l, false));
    }
    let first = lessons::all()
        .into_iter()
        .next()
        .ok_or_else(|| crate::Error::Config("the course has no lessons".into()))?;
    Ok((first, true))
}
