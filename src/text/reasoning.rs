//! A reasoning model's output split into its thinking and its answer as it streams: Qwen3
//! writes `<think>\n…\n</think>\n\n` before the answer. The thinking goes to `reasoning`
//! (trimmed of the whitespace around it), never into the answer.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// New text of each part.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Split {
    pub reasoning: String,
    pub answer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not yet known whether the output opens with `<think>`.
    Start,
    Thinking,
    /// After `</think>`: whitespace before the answer is dropped.
    AnswerStart,
    Answer,
}

#[derive(Debug, Clone)]
pub struct ReasoningSplitter {
    state: State,
    /// Text not yet handed out: a possible prefix of a tag, or trailing whitespace.
    held: String,
    /// Some thinking went out: whitespace is no longer leading.
    thought: bool,
}

impl ReasoningSplitter {
    /// `inside`: the prompt already opened the `<think>` block (some templates end the
    /// generation prompt with it), so the output starts in the thinking.
    pub fn new(inside: bool) -> Self {
        Self {
            state: if inside {
                State::Thinking
            } else {
                State::Start
            },
            held: String::new(),
            thought: false,
        }
    }

    pub fn push(&mut self, text: &str) -> Split {
        self.held.push_str(text);
        let mut out = Split::default();
        loop {
            match self.state {
                State::Start => {
                    let lead = self.held.trim_start();
                    if let Some(rest) = lead.strip_prefix(OPEN) {
                        self.held = rest.trim_start().to_string();
                        self.state = State::Thinking;
                    } else if OPEN.starts_with(lead) {
                        return out;
                    } else {
                        self.state = State::Answer;
                    }
                }
                State::Thinking => {
                    if !self.thought {
                        self.held = self.held.trim_start().to_string();
                    }
                    if let Some(at) = self.held.find(CLOSE) {
                        let rest = self.held[at + CLOSE.len()..].to_string();
                        out.reasoning.push_str(self.held[..at].trim_end());
                        self.held = rest;
                        self.state = State::AnswerStart;
                        continue;
                    }
                    // Keep back what could begin `</think>`, and trailing whitespace that
                    // would end the reasoning if the tag follows.
                    let keep = partial_suffix(&self.held, CLOSE);
                    let body = self.held[..self.held.len() - keep].trim_end();
                    let cut = body.len();
                    self.thought |= cut > 0;
                    out.reasoning.push_str(&self.held[..cut]);
                    self.held.drain(..cut);
                    return out;
                }
                State::AnswerStart => {
                    let answer = self.held.trim_start();
                    if answer.is_empty() {
                        self.held.clear();
                        return out;
                    }
                    self.held = answer.to_string();
                    self.state = State::Answer;
                }
                State::Answer => {
                    out.answer.push_str(&self.held);
                    self.held.clear();
                    return out;
                }
            }
        }
    }

    /// What is still held back, at the end of the output.
    pub fn finish(&mut self) -> Split {
        let held = std::mem::take(&mut self.held);
        match self.state {
            State::Start | State::Answer => Split {
                reasoning: String::new(),
                answer: held,
            },
            State::Thinking => Split {
                reasoning: held.trim_end().to_string(),
                answer: String::new(),
            },
            State::AnswerStart => Split::default(),
        }
    }

    /// A whole output split at once.
    pub fn split(inside: bool, text: &str) -> Split {
        let mut splitter = Self::new(inside);
        let mut split = splitter.push(text);
        let rest = splitter.finish();
        split.reasoning.push_str(&rest.reasoning);
        split.answer.push_str(&rest.answer);
        split
    }
}

/// The length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len())
        .rev()
        .find(|&n| text.ends_with(&tag[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str =
        "<think>\nThe user greets me.\nI greet back.\n</think>\n\nHello! 👋 How can I help?";

    #[test]
    fn whole_output_splits_into_thinking_and_answer() {
        let split = ReasoningSplitter::split(false, OUTPUT);
        assert_eq!(split.reasoning, "The user greets me.\nI greet back.");
        assert_eq!(split.answer, "Hello! 👋 How can I help?");
    }

    #[test]
    fn every_chunking_gives_the_same_parts() {
        let whole = ReasoningSplitter::split(false, OUTPUT);
        let chars: Vec<char> = OUTPUT.chars().collect();
        for size in 1..12 {
            let mut splitter = ReasoningSplitter::new(false);
            let mut got = Split::default();
            for piece in chars.chunks(size) {
                let s = splitter.push(&piece.iter().collect::<String>());
                got.reasoning += &s.reasoning;
                got.answer += &s.answer;
            }
            let s = splitter.finish();
            got.reasoning += &s.reasoning;
            got.answer += &s.answer;
            assert_eq!(got, whole, "chunks of {size}");
        }
    }

    #[test]
    fn output_without_thinking_is_all_answer() {
        for text in ["Hi there", "<thin", "", "  <b>bold</b>"] {
            let split = ReasoningSplitter::split(false, text);
            assert_eq!(split.reasoning, "");
            assert_eq!(split.answer, text);
        }
    }

    #[test]
    fn unfinished_thinking_stays_reasoning() {
        let split = ReasoningSplitter::split(false, "<think>\nStill going </th");
        assert_eq!(split.reasoning, "Still going </th");
        assert_eq!(split.answer, "");
    }

    #[test]
    fn a_prompt_that_opened_the_block_starts_inside_it() {
        let split = ReasoningSplitter::split(true, "a plan\n</think>\n\nDone.");
        assert_eq!(split.reasoning, "a plan");
        assert_eq!(split.answer, "Done.");
    }

    #[test]
    fn an_empty_block_gives_no_reasoning() {
        let split = ReasoningSplitter::split(false, "<think>\n\n</think>\n\nOK");
        assert_eq!(
            split,
            Split {
                reasoning: String::new(),
                answer: "OK".into()
            }
        );
    }
}
