//! Tokens of the course's tensor code: Python's numbers, strings, names and
//! operators. Newlines end a statement only outside brackets, as in Python,
//! so a nested list literal may span lines.

/// One token, with the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    Name(String),
    /// An operator or punctuation: `+ - * / ^ @ ( ) [ ] , : . = == != < <= > >=`.
    Sym(&'static str),
    /// The end of a statement.
    Newline,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
}

const SYMBOLS: [&str; 21] = [
    "==", "!=", "<=", ">=", "**", "^", "+", "-", "*", "/", "@", "(", ")", "[", "]", ",", ":", ".",
    "=", "<", ">",
];

/// Split `src` into tokens; an error names the line and the character.
pub fn tokenize(src: &str) -> Result<Vec<Token>, (usize, String)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut depth) = (0usize, 1usize, 0i32);
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                if depth == 0 {
                    out.push(Token {
                        tok: Tok::Newline,
                        line,
                    });
                }
                line += 1;
                i += 1;
            }
            '\\' if chars.get(i + 1) == Some(&'\n') => {
                // explicit line continuation
                line += 1;
                i += 2;
            }
            ';' => {
                out.push(Token {
                    tok: Tok::Newline,
                    line,
                });
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '"' | '\'' => {
                let quote = c;
                let start_line = line;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => {
                            return Err((start_line, "this string has no closing quote".into()))
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = chars.get(i + 1).copied().unwrap_or('\\');
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::Str(s),
                    line: start_line,
                });
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                let mut is_float = false;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                    i += 1;
                }
                if i < chars.len() && chars[i] == '.' {
                    is_float = true;
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        is_float = true;
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let text: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
                let tok = if is_float {
                    Tok::Float(
                        text.parse()
                            .map_err(|_| (line, format!("'{text}' is not a number")))?,
                    )
                } else {
                    Tok::Int(
                        text.parse()
                            .map_err(|_| (line, format!("'{text}' is too large for an integer")))?,
                    )
                };
                out.push(Token { tok, line });
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Name(chars[start..i].iter().collect()),
                    line,
                });
            }
            _ => {
                let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let sym = SYMBOLS
                    .iter()
                    .find(|s| rest.starts_with(**s))
                    .ok_or_else(|| (line, format!("unexpected character '{c}'")))?;
                match *sym {
                    "(" | "[" => depth += 1,
                    ")" | "]" => depth = (depth - 1).max(0),
                    _ => {}
                }
                out.push(Token {
                    tok: Tok::Sym(sym),
                    line,
                });
                i += sym.len();
            }
        }
    }
    out.push(Token {
        tok: Tok::Newline,
        line,
    });
    Ok(out)
}

/// Whether `src` leaves a bracket or string open: the prompt then asks for
/// another line before running it.
pub fn is_incomplete(src: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '#' => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '"' | '\'' => quote = Some(c),
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                _ => {}
            },
        }
    }
    depth > 0 || src.trim_end().ends_with('\\')
}
