//! Statements and expressions of the course's tensor code, parsed from
//! tokens with Python's precedence: comparisons, then `+ -`, then `* / @`,
//! then unary minus, then `**`, then calls, attributes and indexing.

use super::lexer::{Tok, Token};

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    None,
    Name(String),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Unary(&'static str, Box<Expr>),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Attr(Box<Expr>, String),
    /// callee, positional arguments, keyword arguments
    Call(Box<Expr>, Vec<Expr>, Vec<(String, Expr)>),
    Index(Box<Expr>, Vec<Subscript>),
}

/// One entry between `[` and `]`: an index or a `start:stop:step` slice.
#[derive(Clone, Debug, PartialEq)]
pub enum Subscript {
    At(Expr),
    Slice(Option<Expr>, Option<Expr>, Option<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `import …` / `from … import …`: nothing to do, torch and np are always there.
    Import,
    /// `a = …` or `a, b = …`
    Assign(Vec<String>, Expr),
    Expr(Expr),
}

/// A statement with the line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub stmt: Stmt,
    pub line: usize,
}

pub fn parse(tokens: &[Token]) -> Result<Vec<Statement>, (usize, String)> {
    let mut p = Parser { tokens, pos: 0 };
    let mut out = Vec::new();
    loop {
        while p.peek() == &Tok::Newline && p.pos + 1 < tokens.len() {
            p.pos += 1;
        }
        if p.pos + 1 >= tokens.len() {
            break;
        }
        let line = p.line();
        let stmt = p.statement()?;
        out.push(Statement { stmt, line });
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].tok
    }

    fn line(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].line
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Tok::Sym(s) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, sym: &str) -> Result<(), (usize, String)> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{sym}'")))
        }
    }

    fn error(&self, what: &str) -> (usize, String) {
        let found = match self.peek() {
            Tok::Newline => "the end of the line".to_string(),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Name(n) => format!("'{n}'"),
            Tok::Int(v) => v.to_string(),
            Tok::Float(v) => v.to_string(),
            Tok::Str(s) => format!("'{s}'"),
        };
        (self.line(), format!("SyntaxError: {what}, found {found}"))
    }

    fn statement(&mut self) -> Result<Stmt, (usize, String)> {
        if let Tok::Name(n) = self.peek() {
            if n == "import" || n == "from" {
                while self.peek() != &Tok::Newline {
                    self.pos += 1;
                }
                return Ok(Stmt::Import);
            }
        }
        // `a = …` and `a, b = …`: names followed by '='
        let save = self.pos;
        let mut names = Vec::new();
        while let Tok::Name(n) = self.peek().clone() {
            self.pos += 1;
            names.push(n);
            if !self.eat(",") {
                break;
            }
        }
        if !names.is_empty() && self.eat("=") {
            let value = self.tuple_or_expr()?;
            self.end_of_statement()?;
            return Ok(Stmt::Assign(names, value));
        }
        self.pos = save;
        let e = self.tuple_or_expr()?;
        self.end_of_statement()?;
        Ok(Stmt::Expr(e))
    }

    fn end_of_statement(&mut self) -> Result<(), (usize, String)> {
        if self.next() == Tok::Newline {
            Ok(())
        } else {
            self.pos -= 1;
            Err(self.error("expected the end of the statement"))
        }
    }

    /// `a, b` without brackets is a tuple, as in Python.
    fn tuple_or_expr(&mut self) -> Result<Expr, (usize, String)> {
        let first = self.expr()?;
        if !matches!(self.peek(), Tok::Sym(",")) {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(",") {
            if matches!(self.peek(), Tok::Newline | Tok::Sym(")")) {
                break;
            }
            items.push(self.expr()?);
        }
        Ok(Expr::Tuple(items))
    }

    fn expr(&mut self) -> Result<Expr, (usize, String)> {
        let lhs = self.additive()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let rhs = self.additive()?;
                return Ok(Expr::Binary(op_name(op), Box::new(lhs), Box::new(rhs)));
            }
        }
        Ok(lhs)
    }

    fn additive(&mut self) -> Result<Expr, (usize, String)> {
        let mut lhs = self.term()?;
        loop {
            let op = if self.eat("+") {
                "+"
            } else if self.eat("-") {
                "-"
            } else {
                return Ok(lhs);
            };
            let rhs = self.term()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn term(&mut self) -> Result<Expr, (usize, String)> {
        let mut lhs = self.unary()?;
        loop {
            let op = if self.eat("*") {
                "*"
            } else if self.eat("/") {
                "/"
            } else if self.eat("@") {
                "@"
            } else {
                return Ok(lhs);
            };
            let rhs = self.unary()?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Expr, (usize, String)> {
        if self.eat("-") {
            return Ok(Expr::Unary("-", Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return self.unary();
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, (usize, String)> {
        let base = self.postfix()?;
        if self.eat("**") {
            let exp = self.unary()?;
            return Ok(Expr::Binary("**", Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, (usize, String)> {
        let mut e = self.atom()?;
        loop {
            if self.eat(".") {
                match self.next() {
                    Tok::Name(n) => e = Expr::Attr(Box::new(e), n),
                    _ => {
                        self.pos -= 1;
                        return Err(self.error("expected a name after '.'"));
                    }
                }
            } else if self.eat("(") {
                let (args, kwargs) = self.arguments()?;
                e = Expr::Call(Box::new(e), args, kwargs);
            } else if self.eat("[") {
                let mut subs = Vec::new();
                loop {
                    subs.push(self.subscript()?);
                    if !self.eat(",") || matches!(self.peek(), Tok::Sym("]")) {
                        break;
                    }
                }
                self.expect("]")?;
                e = Expr::Index(Box::new(e), subs);
            } else {
                return Ok(e);
            }
        }
    }

    fn arguments(&mut self) -> Result<(Vec<Expr>, Vec<(String, Expr)>), (usize, String)> {
        let (mut args, mut kwargs) = (Vec::new(), Vec::new());
        while !self.eat(")") {
            // `name=value`
            if let (
                Tok::Name(n),
                Some(Token {
                    tok: Tok::Sym("="), ..
                }),
            ) = (self.peek().clone(), self.tokens.get(self.pos + 1))
            {
                self.pos += 2;
                kwargs.push((n, self.expr()?));
            } else {
                if !kwargs.is_empty() {
                    return Err(self.error("positional argument follows keyword argument"));
                }
                args.push(self.expr()?);
            }
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok((args, kwargs))
    }

    fn subscript(&mut self) -> Result<Subscript, (usize, String)> {
        let ends = |t: &Tok| matches!(t, Tok::Sym(":") | Tok::Sym(",") | Tok::Sym("]"));
        let start = if ends(self.peek()) {
            None
        } else {
            Some(self.expr()?)
        };
        if !self.eat(":") {
            return match start {
                Some(e) => Ok(Subscript::At(e)),
                None => Err(self.error("expected an index")),
            };
        }
        let stop = if ends(self.peek()) {
            None
        } else {
            Some(self.expr()?)
        };
        let step = if self.eat(":") {
            if ends(self.peek()) {
                None
            } else {
                Some(self.expr()?)
            }
        } else {
            None
        };
        Ok(Subscript::Slice(start, stop, step))
    }

    fn atom(&mut self) -> Result<Expr, (usize, String)> {
        match self.next() {
            Tok::Int(v) => Ok(Expr::Int(v)),
            Tok::Float(v) => Ok(Expr::Float(v)),
            Tok::Str(mut s) => {
                // adjacent strings join, as in Python
                while let Tok::Str(more) = self.peek().clone() {
                    self.pos += 1;
                    s.push_str(&more);
                }
                Ok(Expr::Str(s))
            }
            Tok::Name(n) => Ok(match n.as_str() {
                "True" => Expr::Bool(true),
                "False" => Expr::Bool(false),
                "None" => Expr::None,
                _ => Expr::Name(n),
            }),
            Tok::Sym("(") => {
                if self.eat(")") {
                    return Ok(Expr::Tuple(Vec::new()));
                }
                let first = self.expr()?;
                if self.eat(")") {
                    return Ok(first);
                }
                let mut items = vec![first];
                while self.eat(",") {
                    if self.eat(")") {
                        return Ok(Expr::Tuple(items));
                    }
                    items.push(self.expr()?);
                }
                self.expect(")")?;
                Ok(Expr::Tuple(items))
            }
            Tok::Sym("[") => {
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.expr()?);
                    if !self.eat(",") {
                        self.expect("]")?;
                        break;
                    }
                }
                Ok(Expr::List(items))
            }
            _ => {
                self.pos -= 1;
                Err(self.error("expected a value"))
            }
        }
    }
}

fn op_name(op: &str) -> &'static str {
    match op {
        "==" => "==",
        "!=" => "!=",
        "<=" => "<=",
        ">=" => ">=",
        "<" => "<",
        _ => ">",
    }
}
