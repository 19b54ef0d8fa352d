//! Predict, then reveal (key `Q`, the small lessons): before a Space step
//! the lab asks the learner to predict something about it — the sign of
//! the first gradient, the next value of the first parameter, or whether
//! the cost will rise at this learning rate — with three or two choices
//! (keys 1–3; Esc skips the step). The step then runs, the answer is
//! scored against what it did, and the status line says so.
//!
//! In the MNIST lessons the quiz asks in the Conv/Pool walk-through: a key
//! that changes the window (t/T stride, p/P padding, z/Z pool size, m mode,
//! k/K kernel) first asks for the output height×width it will give, scored
//! with floor((n + 2p − k)/s) + 1 (`explain::conv_output_size`, what the
//! pane then shows).
//!
//! With `--transcript FILE.md` each Space step's update, written out with
//! its numbers, and the question with the learner's answer are appended
//! to a Markdown file, opened, written and closed for every step so that
//! nothing is lost if the lab stops. An existing file is added to, never
//! overwritten.

use std::io::Write as _;
use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::app::App;
use super::stepper::Stepper;
use super::views::conv_viz::{ConvPane, Learned};
use super::views::stepper_view::{num, update_numbers};
use crate::data::mnist::Mnist;

/// What a question asks about the coming step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The sign of ∂cost/∂θ for the first parameter.
    GradientSign,
    /// θ after the step (the first parameter's first value).
    NextValue,
    /// Whether the cost after the step is higher than before it.
    CostRises,
    /// The output height×width of the Conv/Pool pane's next window.
    OutputSize,
}

/// What an output-size question is about: the key that changes the window
/// and the numbers of the window it gives.
#[derive(Clone, Debug, PartialEq)]
pub struct SizeAsk {
    pub key: KeyCode,
    /// "convolution", "max pool", "avg pool".
    pub mode: &'static str,
    /// Input rows and cols, kernel rows and cols, stride, padding.
    pub input: (usize, usize),
    pub kernel: (usize, usize),
    pub stride: usize,
    pub padding: usize,
}

/// A question waiting for its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    pub kind: Kind,
    pub text: String,
    pub choices: Vec<String>,
    /// The first parameter's name and value, its gradient and the lr now.
    param: String,
    value: f32,
    grad: f32,
    cost: f32,
    /// The window an output-size question is about.
    pub size: Option<SizeAsk>,
}

/// The quiz's state: on or off, the question asked, the score.
#[derive(Default)]
pub struct Quiz {
    pub on: bool,
    pub pending: Option<Question>,
    pub asked: usize,
    pub right: usize,
    /// `--transcript FILE.md`.
    pub transcript: Option<PathBuf>,
    /// Steps written to the transcript (its header is written before the first).
    pub written: usize,
}

/// This quiz's keys, for the help.
pub const KEYS: &[(&str, &str)] = &[
    (
        "Q",
        "quiz: predict before each Space step (small lessons), or the output size before t p z m k in Conv/Pool (MNIST lessons)",
    ),
    ("1 / 2 / 3", "quiz: answer; Esc skips the step"),
];

/// The first parameter's first value and its gradient.
fn first(s: &Stepper) -> Option<(String, f32, f32)> {
    let (name, a) = s.params().into_iter().next()?;
    let g = s.now.as_ref()?.grads.first()?.1.iter().next().copied()?;
    Some((name, a.iter().next().copied()?, g))
}

/// The question for step number `n` (they take turns).
pub fn ask(s: &Stepper, n: usize) -> Option<Question> {
    let (param, value, grad) = first(s)?;
    let cost = s.now.as_ref()?.cost;
    let lr = s.lr();
    let d = if param == "x" {
        "dy/dx".to_string()
    } else {
        format!("∂cost/∂{param}")
    };
    // with mini-batches a step's update follows a batch's gradient, not the
    // full cost's shown here: ask whether the cost rises instead
    let batched = s.session.steps_per_epoch() > 1;
    let (kind, text, choices) = match n % 3 {
        0 => (
            Kind::GradientSign,
            format!("{param} = {}: what sign has {d}?", num(value)),
            vec!["positive".into(), "negative".into(), "zero".into()],
        ),
        1 if !batched => {
            // the right one and two slips: the wrong sign, lr forgotten
            let mut c = vec![
                num(value - lr * grad),
                num(value + lr * grad),
                num(value - grad),
            ];
            let turn = (n / 3) % c.len();
            c.rotate_left(turn);
            (
                Kind::NextValue,
                format!(
                    "{param} = {}, {d} = {}, lr {}: {param} after this step?",
                    num(value),
                    num(grad),
                    super::format::lr(lr)
                ),
                c,
            )
        }
        _ => (
            Kind::CostRises,
            format!(
                "cost {} now, lr {}: will the cost rise after this step?",
                num(cost),
                super::format::lr(lr)
            ),
            vec!["yes, it rises".into(), "no, it falls or stays".into()],
        ),
    };
    Some(Question {
        kind,
        text,
        choices,
        param,
        value,
        grad,
        cost,
        size: None,
    })
}

/// `floor((n + 2p − k)/s) + 1` written out with its numbers, as the
/// transcript and the reveal give it; None when the window does not fit.
pub fn size_equation(n: usize, k: usize, s: usize, p: usize) -> Option<String> {
    let out = crate::explain::conv_output_size(n, k, s, p).ok()?;
    let span = n + 2 * p - k;
    Some(format!(
        "floor(({n} + 2*{p} - {k}) / {s}) + 1 = floor({span} / {s}) + 1 = {out}"
    ))
}

/// The keys that change the Conv/Pool window's size (and so its output's).
pub const SIZE_KEYS: &str = "tTpPzZmkK";

/// The output-size question for `key` pressed in the Conv/Pool pane, or
/// None when the key does not change the window's numbers. The choices are
/// the right size and two slips (padding forgotten, stride forgotten, the
/// +1 forgotten), in an order that turns with `n`.
pub fn ask_size(
    pane: &ConvPane,
    key: KeyEvent,
    data: &Mnist,
    learned: Option<&Learned>,
    n: usize,
) -> Option<Question> {
    let KeyCode::Char(c) = key.code else {
        return None;
    };
    if !SIZE_KEYS.contains(c) {
        return None;
    }
    let mut next = pane.clone();
    if !next.handle_key(key, data, learned) || next.window(learned) == pane.window(learned) {
        return None;
    }
    let (rows, cols) = (data.test.rows, data.test.cols);
    let (kh, kw, stride, padding) = next.window(learned);
    let (h, w) = next.out_dims(rows, cols, learned)?;
    let right = format!("{h}x{w}");
    let slips = |n: usize, k: usize| -> Vec<usize> {
        let padded = n + 2 * padding;
        let mut v = Vec::new();
        if n >= k {
            v.push((n - k) / stride + 1);
        }
        v.push(padded - k + 1);
        v.push((padded - k) / stride);
        v
    };
    let mut choices = vec![right.clone()];
    for (a, b) in slips(rows, kh).into_iter().zip(slips(cols, kw)) {
        let c = format!("{a}x{b}");
        if !choices.contains(&c) && choices.len() < 3 {
            choices.push(c);
        }
    }
    if choices.len() < 2 {
        choices.push(format!("{}x{}", h + 1, w + 1));
    }
    let turn = n % choices.len();
    choices.rotate_left(turn);
    let mode = next.mode.label();
    let pad = if next.mode == super::views::conv_viz::Mode::Conv {
        format!(", padding {padding}")
    } else {
        String::new()
    };
    Some(Question {
        kind: Kind::OutputSize,
        text: format!(
            "{mode} on {rows}x{cols}, window {kh}x{kw}, stride {stride}{pad}: output size?"
        ),
        choices,
        param: String::new(),
        value: 0.0,
        grad: 0.0,
        cost: 0.0,
        size: Some(SizeAsk {
            key: key.code,
            mode,
            input: (rows, cols),
            kernel: (kh, kw),
            stride,
            padding,
        }),
    })
}

impl Question {
    /// The right choice's index, known from the step `after` it ran.
    pub fn answer(&self, after: &Stepper) -> Option<usize> {
        Some(match self.kind {
            Kind::GradientSign => {
                if self.grad > 0.0 {
                    0
                } else if self.grad < 0.0 {
                    1
                } else {
                    2
                }
            }
            Kind::NextValue => {
                let (_, v, _) = first(after)?;
                let shown = num(v);
                self.choices.iter().position(|c| *c == shown)?
            }
            Kind::CostRises => {
                let now = after.now.as_ref()?.cost;
                if now > self.cost {
                    0
                } else {
                    1
                }
            }
            // scored by the Conv/Pool pane (see `App::answer_size`)
            Kind::OutputSize => return None,
        })
    }
}

impl App {
    /// `Q`: the quiz on or off (small lessons; the MNIST lessons' Conv/Pool pane).
    pub fn toggle_quiz(&mut self) {
        let conv = self.race.is_none() && self.lesson.is_classifier();
        if self.stepper.is_none() && !conv {
            self.message = Some(
                "the quiz is for the small lessons (gd-scalar … xor-deep) and the MNIST lessons' Conv/Pool pane"
                    .into(),
            );
            return;
        }
        self.quiz.on = !self.quiz.on;
        self.quiz.pending = None;
        self.message = Some(if self.quiz.on && self.stepper.is_none() {
            "quiz on: Conv/Pool's t p z m k ask the size; Q off".into()
        } else if self.quiz.on {
            "quiz on: Space asks first, 1-3 answer (Q: off)".into()
        } else {
            format!("quiz off: {} of {} right", self.quiz.right, self.quiz.asked)
        });
    }

    /// Space with the quiz on: ask (the step waits for the answer).
    /// False when there is nothing to ask (then the step just runs).
    pub fn quiz_before_step(&mut self) -> bool {
        if !self.quiz.on || self.quiz.pending.is_some() {
            return false;
        }
        let Some(s) = self.stepper.as_ref().filter(|s| !s.session.done()) else {
            return false;
        };
        self.quiz.pending = ask(s, self.quiz.asked);
        self.quiz.pending.is_some()
    }

    /// Keys while a question waits; true if the key was the quiz's.
    pub fn quiz_key(&mut self, key: KeyEvent) -> bool {
        let Some(q) = self.quiz.pending.clone() else {
            return false;
        };
        if key.kind == KeyEventKind::Release {
            return true;
        }
        let choice = match key.code {
            KeyCode::Char(c @ '1'..='9') => c as usize - '1' as usize,
            KeyCode::Esc => {
                self.quiz.pending = None;
                self.message = Some("skipped: no step taken".into());
                return true;
            }
            KeyCode::Char('q') => return false,
            _ => return true,
        };
        if choice >= q.choices.len() {
            return true;
        }
        self.quiz.pending = None;
        if let Some(size) = &q.size {
            self.answer_size(&q, size, choice);
            return true;
        }
        self.step_now();
        let Some(s) = self.stepper.as_ref() else {
            return true;
        };
        let right = q.answer(s);
        self.quiz.asked += 1;
        let verdict = if right == Some(choice) {
            self.quiz.right += 1;
            "right"
        } else {
            "not quite"
        };
        let truth = right
            .and_then(|i| q.choices.get(i))
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let line = format!(
            "{verdict}: {truth} · score {}/{}",
            self.quiz.right, self.quiz.asked
        );
        let answer = format!(
            "**Q:** {}  \n**Your answer:** {} — {verdict} (it was: {truth}); score {}/{}",
            q.text, q.choices[choice], self.quiz.right, self.quiz.asked
        );
        self.write_transcript(Some(&answer));
        self.message = Some(line);
        true
    }

    /// With the quiz on and a Conv/Pool key that changes the window: ask
    /// for the output size first (the key waits for the answer). True if asked.
    pub fn quiz_before_conv_key(&mut self, key: KeyEvent) -> bool {
        if !self.quiz.on || self.quiz.pending.is_some() || key.kind == KeyEventKind::Release {
            return false;
        }
        let learned = self.conv.trained.learned().cloned();
        self.quiz.pending = ask_size(
            &self.conv,
            key,
            &self.data,
            learned.as_ref(),
            self.quiz.asked,
        );
        self.quiz.pending.is_some()
    }

    /// Score `choice` for the output-size question `q`: the key runs, and
    /// the pane's new output size is the truth; the equation goes to the
    /// transcript.
    fn answer_size(&mut self, q: &Question, size: &SizeAsk, choice: usize) {
        let learned = self.conv.trained.learned().cloned();
        let key = KeyEvent::new(size.key, crossterm::event::KeyModifiers::NONE);
        self.conv.handle_key(key, &self.data, learned.as_ref());
        let (rows, cols) = size.input;
        let truth = self
            .conv
            .out_dims(rows, cols, learned.as_ref())
            .map(|(h, w)| format!("{h}x{w}"));
        let right = truth
            .as_ref()
            .and_then(|t| q.choices.iter().position(|c| c == t));
        self.quiz.asked += 1;
        let verdict = if right == Some(choice) {
            self.quiz.right += 1;
            "right"
        } else {
            "not quite"
        };
        let truth = truth.unwrap_or_else(|| "unknown".into());
        let (kh, kw) = size.kernel;
        let eq = |n, k| {
            size_equation(n, k, size.stride, size.padding).unwrap_or_else(|| "does not fit".into())
        };
        let height = eq(rows, kh);
        self.message = Some(format!(
            "{verdict}: {truth} = floor(({rows}+2*{}-{kh})/{})+1 · score {}/{}",
            size.padding, size.stride, self.quiz.right, self.quiz.asked
        ));
        let mut text = format!(
            "## Conv/Pool: {}, input {rows}x{cols}, window {kh}x{kw}, stride {}, padding {}\n\n",
            size.mode, size.stride, size.padding
        );
        text.push_str("    output = floor((N + 2P - K) / S) + 1\n");
        text.push_str(&format!("    height = {height}\n"));
        text.push_str(&format!("    width  = {}\n\n", eq(cols, kw)));
        text.push_str(&format!(
            "**Q:** {}  \n**Your answer:** {} — {verdict} (it was: {truth}); score {}/{}\n\n",
            q.text, q.choices[choice], self.quiz.right, self.quiz.asked
        ));
        self.append_transcript(text);
    }

    /// Append `body` to `--transcript` (its header first, the first time).
    fn append_transcript(&mut self, body: String) {
        let Some(path) = self.quiz.transcript.clone() else {
            return;
        };
        let mut text = String::new();
        if self.quiz.written == 0 {
            text.push_str(&format!(
                "\n# dl-lab transcript: {} ({})\n\n",
                self.lesson.name, self.lesson.title
            ));
        }
        text.push_str(&body);
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        match written {
            Ok(()) => self.quiz.written += 1,
            Err(e) => {
                self.message = Some(format!("--transcript {}: {e}", path.display()));
                self.quiz.transcript = None;
            }
        }
    }

    /// Append the last step (and the quiz's answer) to `--transcript`.
    pub fn write_transcript(&mut self, answer: Option<&str>) {
        if self.quiz.transcript.is_none() {
            return;
        }
        let Some(s) = self.stepper.as_ref() else {
            return;
        };
        let Some(r) = &s.last else {
            return;
        };
        let mut text = String::new();
        text.push_str(&format!(
            "## epoch {}/{} · lr {}\n\n",
            r.epoch,
            s.session.epochs,
            super::format::lr(s.last_lr)
        ));
        text.push_str(&format!("cost before the step: {}\n\n", num(r.cost)));
        for ((name, before), (_, grad)) in s.before.iter().zip(&r.grads) {
            for (i, (p, g)) in before.iter().zip(grad.iter()).enumerate().take(12) {
                let at = if before.len() > 1 {
                    format!("{name}[{i}]")
                } else {
                    name.clone()
                };
                text.push_str(&format!(
                    "    {at} ← {at} − lr·∂cost/∂{at} = {}\n",
                    update_numbers(*p, s.last_lr, *g)
                ));
            }
        }
        text.push('\n');
        if let Some(a) = answer {
            text.push_str(a);
            text.push_str("\n\n");
        }
        self.append_transcript(text);
    }
}

/// The waiting question, in a box over the lower middle of the screen.
pub fn render_question(app: &App, area: ratatui::layout::Rect, buf: &mut ratatui::buffer::Buffer) {
    use ratatui::layout::Rect;
    use ratatui::style::{Color, Modifier, Style};
    use ratatui::text::Line;
    use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};
    let Some(q) = &app.quiz.pending else {
        return;
    };
    let mut lines = vec![Line::styled(
        q.text.clone(),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for (i, c) in q.choices.iter().enumerate() {
        lines.push(Line::raw(format!("  {}) {c}", i + 1)));
    }
    let then = if q.size.is_some() {
        "the window changes"
    } else {
        "the step runs"
    };
    lines.push(Line::styled(
        format!(
            "1-{} answer, then {then} · Esc skip · score {}/{}",
            q.choices.len(),
            app.quiz.right,
            app.quiz.asked
        ),
        Style::new().fg(Color::DarkGray),
    ));
    let w = area.width.min(72);
    let h = (lines.len() as u16 + 3).min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + area.height.saturating_sub(h + 1),
        w,
        h,
    );
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(super::views::pane_block(
            "Predict, then reveal",
            true,
            app.ascii,
        ))
        .render(rect, buf);
}
