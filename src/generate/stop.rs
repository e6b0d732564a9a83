//! Stop strings for streamed text.
//!
//! Text is held back while it could still be the start of a stop string, so a
//! stream never shows part of one, and is cut at the earliest stop string once
//! one appears, even when it spans several pushes.

/// What one [`StopMatcher::push`] releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopPush {
    /// Text safe to show now.
    pub emit: String,
    /// A stop string was found: `emit` ends right before it and generation
    /// should end.
    pub stopped: bool,
}

/// Watches one answer's text for stop strings.
///
/// With no stop, the emits plus [`finish`](Self::finish) concatenate to the
/// whole input; after a stop, the emits concatenate to the input up to the
/// first occurrence (earliest start over all stop strings).
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Received but not yet emitted: a suffix that is a proper prefix of some
    /// stop string, so always shorter than the longest stop.
    held: String,
    stopped: bool,
}

impl StopMatcher {
    /// Validating the stop strings is the caller's job: an empty one would
    /// match before any text, so the API should refuse it; here empty strings
    /// are ignored. No stop strings at all is fine: everything passes
    /// straight through.
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
            stopped: false,
        }
    }

    /// Feeds the next piece of text. After a stop has been reported, further
    /// pushes emit nothing and report `stopped` again.
    pub fn push(&mut self, text: &str) -> StopPush {
        if self.stopped {
            return StopPush {
                emit: String::new(),
                stopped: true,
            };
        }
        self.held.push_str(text);
        // Only the held prefix plus `text` can contain a stop that has not
        // been seen: anything before the held part was emitted because no
        // stop could start there.
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(at) = first {
            self.held.truncate(at);
            self.stopped = true;
            return StopPush {
                emit: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        let keep_from = self.partial_stop_start();
        let rest = self.held.split_off(keep_from);
        StopPush {
            emit: std::mem::replace(&mut self.held, rest),
            stopped: false,
        }
    }

    /// Releases the held-back text at the end of generation (empty after a
    /// stop).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Start of the longest suffix of `held` that begins some stop string,
    /// or `held.len()` if none does. Candidates start at char boundaries, so
    /// the split never cuts a UTF-8 character, and only the last
    /// (longest stop - 1) bytes can qualify because no whole stop is present.
    fn partial_stop_start(&self) -> usize {
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        let len = self.held.len();
        (len - len.min(longest.saturating_sub(1))..len)
            .filter(|&i| self.held.is_char_boundary(i))
            .find(|&i| {
                let tail = &self.held[i..];
                self.stops.iter().any(|s| s.starts_with(tail))
            })
            .unwrap_or(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(stops: &[&str]) -> StopMatcher {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        StopMatcher::new(&stops)
    }

    /// (emit, stopped) per push.
    fn run(m: &mut StopMatcher, chunks: &[&str]) -> Vec<(String, bool)> {
        chunks
            .iter()
            .map(|c| {
                let p = m.push(c);
                (p.emit, p.stopped)
            })
            .collect()
    }

    fn pushes(expected: &[(&str, bool)]) -> Vec<(String, bool)> {
        expected.iter().map(|&(e, s)| (e.to_string(), s)).collect()
    }

    #[test]
    fn no_stops_passes_through() {
        let mut m = matcher(&[]);
        assert_eq!(
            run(&mut m, &["ab", "", "c"]),
            pushes(&[("ab", false), ("", false), ("c", false)])
        );
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn stop_across_chunk_boundaries() {
        let mut m = matcher(&["</s>"]);
        assert_eq!(
            run(&mut m, &["hello <", "/", "s> world"]),
            pushes(&[("hello ", false), ("", false), ("", true)])
        );
        assert_eq!(run(&mut m, &["more"]), pushes(&[("", true)]));
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn partial_prefix_is_released() {
        let mut m = matcher(&["</s>"]);
        assert_eq!(
            run(&mut m, &["a </", "p> b <"]),
            pushes(&[("a ", false), ("</p> b ", false)])
        );
        assert_eq!(m.finish(), "<");
    }

    #[test]
    fn overlapping_stops() {
        // "b" starts inside "ab": whichever starts first wins.
        let mut m = matcher(&["ab", "b"]);
        assert_eq!(
            run(&mut m, &["xa", "b"]),
            pushes(&[("x", false), ("", true)])
        );
        let mut m = matcher(&["ab", "b"]);
        assert_eq!(run(&mut m, &["xb"]), pushes(&[("x", true)]));
        let mut m = matcher(&["ab", "b"]);
        assert_eq!(
            run(&mut m, &["a", "c", "a"]),
            pushes(&[("", false), ("ac", false), ("", false)])
        );
        assert_eq!(m.finish(), "a");
        // Self-overlapping stop: "aab" inside "aaab".
        let mut m = matcher(&["aab"]);
        assert_eq!(
            run(&mut m, &["a", "a", "a", "b"]),
            pushes(&[("", false), ("", false), ("a", false), ("", true)])
        );
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        let mut m = matcher(&["world", "lo w", "zzz"]);
        assert_eq!(run(&mut m, &["hello world"]), pushes(&[("hel", true)]));
        // A lone "l" could start "lo w", so it waits for the next push.
        let mut m = matcher(&["world", "lo w"]);
        assert_eq!(
            run(&mut m, &["hel", "lo", " ", "world"]),
            pushes(&[("he", false), ("l", false), ("", false), ("", true)])
        );
    }

    #[test]
    fn stop_at_the_very_start() {
        let mut m = matcher(&["STOP"]);
        assert_eq!(run(&mut m, &["STOP and more"]), pushes(&[("", true)]));
        let mut m = matcher(&["STOP"]);
        assert_eq!(
            run(&mut m, &["ST", "OP"]),
            pushes(&[("", false), ("", true)])
        );
    }

    #[test]
    fn multibyte_characters() {
        let mut m = matcher(&["世界"]);
        assert_eq!(
            run(&mut m, &["你好世", "界!"]),
            pushes(&[("你好", false), ("", true)])
        );
        // "ã" shares its first UTF-8 byte with "é" but is not a prefix of it.
        let mut m = matcher(&["é!"]);
        assert_eq!(
            run(&mut m, &["aã", "é", "x"]),
            pushes(&[("aã", false), ("", false), ("éx", false)])
        );
        assert_eq!(m.finish(), "");
        let mut m = matcher(&["🙂🙃"]);
        assert_eq!(
            run(&mut m, &["a🙂", "🙂", "🙃b"]),
            pushes(&[("a", false), ("🙂", false), ("", true)])
        );
    }

    #[test]
    fn empty_stop_strings_are_ignored() {
        let mut m = matcher(&["", "x"]);
        assert_eq!(
            run(&mut m, &["ab", "cxd"]),
            pushes(&[("ab", false), ("c", true)])
        );
        let mut m = matcher(&[""]);
        assert_eq!(run(&mut m, &["ab"]), pushes(&[("ab", false)]));
        assert_eq!(m.finish(), "");
    }

    /// The documented invariant, checked against `str::find` for every way
    /// of cutting the text into two or three chunks and char by char.
    #[test]
    fn emits_match_the_reference_for_every_chunking() {
        let stop_sets: [&[&str]; 4] = [&["</s>"], &["ab", "b"], &["aab", "ba"], &["é!", "😀x"]];
        let texts = [
            "x</s>y",
            "aab",
            "caab",
            "bbaa",
            "aa",
            "zaé!",
            "é😀é!",
            "😀😀x",
            "nothing",
        ];
        for stops in stop_sets {
            for text in texts {
                let first = stops.iter().filter_map(|s| text.find(s)).min();
                let want = (&text[..first.unwrap_or(text.len())], first.is_some());
                let bounds: Vec<usize> = text
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([text.len()])
                    .collect();
                let mut cuts: Vec<Vec<usize>> = Vec::new();
                for &a in &bounds {
                    for &b in bounds.iter().filter(|&&b| b >= a) {
                        cuts.push(vec![a, b]);
                    }
                }
                cuts.push(bounds.clone());
                for cut in cuts {
                    let mut m = matcher(stops);
                    let (mut out, mut stopped, mut start) = (String::new(), false, 0);
                    for end in cut.into_iter().chain([text.len()]) {
                        let p = m.push(&text[start..end]);
                        assert!(!stopped || (p.stopped && p.emit.is_empty()));
                        out += &p.emit;
                        stopped = p.stopped;
                        start = end;
                    }
                    out += &m.finish();
                    assert_eq!(
                        (out.as_str(), stopped),
                        want,
                        "stops {stops:?}, text {text:?}"
                    );
                }
            }
        }
    }
}
