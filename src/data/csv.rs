//! Small regression tables from CSV: a header row, then one sample per line, every column a
//! number, the last column the target. Enough for `--data my.csv` in the regression lessons.
//!
//! The dialect is the plain one most tools write (RFC 4180 without quoting): fields split on
//! `,`, surrounding whitespace ignored, `\n` or `\r\n` line ends, a UTF-8 BOM ignored, blank
//! lines skipped. Quoted fields containing commas are not supported. Errors name the file and
//! the line, counting the header as line 1: `data.csv:3: column 2 ("x2") "abc" is not a number`.

use std::path::Path;

use ndarray::Array2;

use crate::{Error, Result};

/// A parsed table: features x (N, F), target y (N, 1), and the F + 1 header names.
pub type RegressionTable = (Array2<f32>, Array2<f32>, Vec<String>);

/// Read `path` as a regression table (see the module docs for the format).
pub fn read_regression_csv(path: impl AsRef<Path>) -> Result<RegressionTable> {
    let path = path.as_ref();
    if path.is_dir() {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            why: "is a directory; this lesson reads one CSV file (a header row, then one sample per line, \
                  the last column the target), e.g. --data scores.csv"
                .into(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| Error::BadFile {
        path: path.to_path_buf(),
        why: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse_regression_csv(&text, path)
}

/// Parse CSV text; `path` is only used in error messages.
pub fn parse_regression_csv(text: &str, path: &Path) -> Result<RegressionTable> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bad = |line: usize, why: String| Error::BadCsv {
        path: path.to_path_buf(),
        line,
        why,
    };
    // (1-based line number, trimmed content) of the non-blank lines.
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());

    let Some((header_line, header)) = lines.next() else {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            why: "empty file: expected a header row (feature names, then the target name)"
                .to_string(),
        });
    };
    let names: Vec<String> = split(header).map(str::to_string).collect();
    check_header(&names).map_err(|why| {
        // a file separated by ';' (as spreadsheets in many locales write) reads as one column
        let hint = if names.len() == 1 && header.contains(';') {
            "; the fields look separated by ';' — this reader splits on ',' (replace ';' with ',')"
        } else {
            ""
        };
        bad(header_line, format!("{why}{hint}"))
    })?;
    let width = names.len();

    let mut values = Vec::new();
    let mut rows = 0;
    for (line, content) in lines {
        let fields: Vec<&str> = split(content).collect();
        if fields.len() != width {
            return Err(bad(
                line,
                format!(
                    "expected {width} columns like the header, found {}",
                    fields.len()
                ),
            ));
        }
        for (col, field) in fields.iter().enumerate() {
            values.push(parse_number(field).map_err(|what| {
                bad(
                    line,
                    format!("column {} (\"{}\") \"{field}\" {what}", col + 1, names[col]),
                )
            })?);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            why: "no data rows after the header".to_string(),
        });
    }

    let table = Array2::from_shape_vec((rows, width), values)
        .expect("every row was checked to have `width` values");
    let x = table.slice(ndarray::s![.., ..width - 1]).to_owned();
    let y = table.slice(ndarray::s![.., width - 1..]).to_owned();
    Ok((x, y, names))
}

fn split(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(str::trim)
}

fn check_header(names: &[String]) -> std::result::Result<(), String> {
    if names.len() < 2 {
        return Err(format!(
            "need at least 2 columns (one or more features, then the target), found {}",
            names.len()
        ));
    }
    if let Some(i) = names.iter().position(|n| n.is_empty()) {
        return Err(format!("header column {} has no name", i + 1));
    }
    if names.iter().all(|n| n.parse::<f32>().is_ok()) {
        return Err(format!(
            "this looks like data, not a header: the first line must name the columns, \
             e.g. {}",
            example_header(names.len())
        ));
    }
    Ok(())
}

fn example_header(width: usize) -> String {
    let mut names: Vec<String> = (1..width).map(|i| format!("x{i}")).collect();
    names.push("y".to_string());
    names.join(",")
}

/// A finite f32, or a short reason for the error message.
fn parse_number(field: &str) -> std::result::Result<f32, &'static str> {
    if field.is_empty() {
        return Err("is empty, expected a number");
    }
    match field.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err("is not a finite number"),
        Err(_) => Err("is not a number"),
    }
}
