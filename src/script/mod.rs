//! `dl-lab tensor`: the course's tensor code, run on our engine and printed
//! as PyTorch prints it.
//!
//! The subset is what the course writes in its tensor-basics lesson:
//! `torch.FloatTensor(…)`, `torch.tensor(…)`, `torch.LongTensor(…)`,
//! `np.array(…)` literals, `+ - * /` with broadcasting, `matmul`/`mul`,
//! `mean`/`sum`/`max`/`argmax` by dimension, `view`, `squeeze`, `cat`,
//! `stack`, indexing and slicing, `print(…)`. Each statement runs in a
//! [`Scope`]: [`lexer`] → [`parser`] → [`eval`], and [`print`] writes values.

pub mod eval;
pub mod lexer;
pub mod parser;
pub mod print;
pub mod value;

use std::io::{BufRead, Write};

pub use eval::{Output, Scope};

/// A statement that failed: its line, its text, and Python's kind of
/// message (`NameError: name 'x' is not defined`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    pub line: usize,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code.is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(
                f,
                "line {}: {}\n{}",
                self.line,
                self.code.trim(),
                self.message
            )
        }
    }
}

impl std::error::Error for ScriptError {}

/// Parse `src` into statements (an error names the line).
fn parse(src: &str) -> Result<Vec<parser::Statement>, ScriptError> {
    let err = |(line, message): (usize, String)| ScriptError {
        line,
        code: src
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .to_string(),
        message,
    };
    let tokens = lexer::tokenize(src).map_err(|(l, m)| err((l, format!("SyntaxError: {m}"))))?;
    parser::parse(&tokens).map_err(err)
}

/// Run a whole script, as `python FILE` would: statements in order, the
/// first error stops it.
pub fn run(
    src: &str,
    scope: &mut Scope,
    out: &mut dyn Write,
    warn: &mut dyn Write,
) -> Result<(), ScriptError> {
    exec_all(src, scope, out, warn, false)
}

/// Run what was typed at the prompt: statements run, and an expression's
/// value is echoed as Python's prompt does.
pub fn run_line(
    src: &str,
    scope: &mut Scope,
    out: &mut dyn Write,
    warn: &mut dyn Write,
) -> Result<(), ScriptError> {
    exec_all(src, scope, out, warn, true)
}

/// Parse `src` and run its statements; `prompt`: echo expression values
/// and leave the line's text out of errors (the user just typed it).
fn exec_all(
    src: &str,
    scope: &mut Scope,
    out: &mut dyn Write,
    warn: &mut dyn Write,
    prompt: bool,
) -> Result<(), ScriptError> {
    let statements = parse(src)?;
    let mut io = Output { out, warn };
    for s in &statements {
        let v = scope
            .exec(&s.stmt, &mut io)
            .map_err(|message| ScriptError {
                line: s.line,
                code: if prompt {
                    String::new()
                } else {
                    src.lines().nth(s.line - 1).unwrap_or("").to_string()
                },
                message,
            })?;
        if let (true, Some(v)) = (prompt, v) {
            let _ = writeln!(io.out, "{}", print::repr_of(&v));
        }
    }
    Ok(())
}

/// The interactive prompt: `>>> `, `... ` while a bracket is open, errors
/// printed and the session kept.
pub fn prompt(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    warn: &mut dyn Write,
) -> std::io::Result<()> {
    let mut scope = Scope::new();
    writeln!(
        out,
        "dl-lab tensor: the course's PyTorch tensor code on dl-lab's engine (torch and np are ready; Ctrl-D quits)"
    )?;
    let mut pending = String::new();
    loop {
        write!(out, "{}", if pending.is_empty() { ">>> " } else { "... " })?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            return Ok(());
        }
        pending.push_str(&line);
        if lexer::is_incomplete(&pending) {
            continue;
        }
        let src = std::mem::take(&mut pending);
        if let Err(e) = run_line(&src, &mut scope, out, warn) {
            writeln!(warn, "{}", e.message)?;
        }
    }
}
