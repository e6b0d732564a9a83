//! Continuous batching over slots. Each slot holds one sequence's KV cache, preallocated for
//! the context size. Every step is one forward pass over each running sequence's next token,
//! plus at most `prefill_chunk` tokens of prompts being prefilled, so running streams never
//! wait for a long prompt and each weight is read once for all of them. A request joins at
//! the next step; each of its n answers is a sequence of its own. A finished sequence's cache
//! stays in its slot: a request whose prompt shares a prefix with it (the next turn of the
//! same chat, a shared system prompt) prefills only what is new.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Finished, JobError, JobEvent};
use crate::contract::Answer;
use crate::engine::Engine;
use crate::generate::{Decoding, GenerationRequest, Next};
use crate::model::{KvCache, Logits, Step};

/// How the slots are sized.
#[derive(Debug, Clone, Copy)]
pub struct SlotOptions {
    /// Sequences decoded together.
    pub parallel: usize,
    /// Positions per slot: a prompt and its answer together.
    pub ctx_size: usize,
    /// Prompt tokens prefilled per step, across all prompts.
    pub prefill_chunk: usize,
}

/// A submitted request and where its events go.
pub struct Work {
    pub request: GenerationRequest,
    pub events: async_channel::Sender<JobEvent>,
}

pub struct Scheduler {
    engine: Arc<Engine>,
    options: SlotOptions,
    slots: Vec<Slot>,
    /// Admitted requests, oldest first.
    groups: VecDeque<Group>,
    /// Steps run so far: the clock least-recently-used reuse goes by.
    steps: u64,
    admitted: u64,
}

struct Slot {
    cache: KvCache,
    /// The token at each position the cache holds.
    tokens: Vec<u32>,
    last_used: u64,
    run: Option<Run>,
}

/// A sequence running in a slot: answer `answer` of the group with id `group`.
struct Run {
    group: u64,
    answer: usize,
    phase: Phase,
}

enum Phase {
    /// The prompt is in the cache up to `done`.
    Prefill { done: usize },
    /// The whole prompt is in the cache (copied from the request's first answer): the first
    /// token comes from that answer's prompt logits, as if this answer had prefilled it.
    Prefilled,
    /// `next` goes into the cache at the next step.
    Decode { decoding: Box<Decoding>, next: u32 },
}

struct Group {
    id: u64,
    work: Work,
    answers: Vec<Option<Answer>>,
    /// Answers given a slot so far.
    started: usize,
    /// Whether answer 0 is past its prompt: the other answers wait for it, to start from its
    /// cache instead of prefilling the prompt again.
    prefilled: bool,
    /// Prompt tokens answer 0 found in a cache.
    cached_tokens: usize,
    /// The prompt's last logits, kept for the other answers when n > 1.
    prompt_logits: Option<Logits>,
    failed: Option<JobError>,
}

impl Scheduler {
    pub fn new(engine: Arc<Engine>, options: SlotOptions) -> Self {
        let slots = (0..options.parallel)
            .map(|_| Slot {
                cache: engine.model.new_cache(options.ctx_size),
                tokens: Vec::new(),
                last_used: 0,
                run: None,
            })
            .collect();
        Self {
            engine,
            options,
            slots,
            groups: VecDeque::new(),
            steps: 0,
            admitted: 0,
        }
    }

    /// (Slots running a sequence, KV positions holding one, running or cached.)
    pub fn usage(&self) -> (usize, usize) {
        let busy = self.slots.iter().filter(|s| s.run.is_some()).count();
        (busy, self.slots.iter().map(|s| s.tokens.len()).sum())
    }

    /// Requests admitted and not yet answered.
    pub fn requests(&self) -> usize {
        self.groups.len()
    }

    /// Whether nothing is admitted: the caller may wait for work instead of stepping.
    pub fn idle(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether a request admitted now would get a slot at the next step: more slots are free
    /// than admitted answers wait for.
    pub fn can_admit(&self) -> bool {
        let free = self.slots.iter().filter(|s| s.run.is_none()).count();
        let waiting: usize = self
            .groups
            .iter()
            .map(|g| g.answers.len() - g.started)
            .sum();
        free > waiting
    }

    /// Ends everything admitted with `message` (a fault inside the model), and forgets what
    /// the caches hold, since the failed pass may have left them half written.
    pub fn fail_all(&mut self, message: &str) {
        for group in self.groups.drain(..) {
            let e = JobError::Panicked(message.to_string());
            let _ = group.work.events.try_send(JobEvent::Done(Err(e)));
        }
        for slot in &mut self.slots {
            slot.run = None;
            slot.tokens.clear();
            slot.cache.truncate(0);
        }
    }

    /// Admits `work`; it gets slots from the next step on.
    pub fn admit(&mut self, work: Work) {
        self.admitted += 1;
        let id = self.admitted;
        let n = work.request.n.max(1);
        self.groups.push_back(Group {
            id,
            work,
            answers: (0..n).map(|_| None).collect(),
            started: 0,
            prefilled: false,
            cached_tokens: 0,
            prompt_logits: None,
            failed: None,
        });
    }

    /// One forward pass over every running sequence, then each sampled token reported.
    pub async fn step(&mut self) {
        self.steps += 1;
        self.drop_abandoned();
        self.start_sequences();
        self.start_prefilled().await;
        let planned = self.plan();
        if planned.is_empty() {
            return;
        }
        let logits = {
            let mut steps: Vec<Step<'_>> = Vec::with_capacity(planned.len());
            let mut slots = self.slots.iter_mut().enumerate();
            for (at, ids) in &planned {
                let slot = slots.find(|(i, _)| i == at).expect("planned slot").1;
                steps.push(Step {
                    ids,
                    cache: &mut slot.cache,
                });
            }
            self.engine.model.forward_batch(&mut steps)
        };
        for ((at, ids), logits) in planned.into_iter().zip(logits) {
            let slot = &mut self.slots[at];
            slot.tokens.extend_from_slice(&ids);
            slot.last_used = self.steps;
            let Some(run) = slot.run.as_mut() else {
                continue;
            };
            let group = group_of(&mut self.groups, run.group);
            let request = &group.work.request;
            let decoding = match std::mem::replace(&mut run.phase, Phase::Prefilled) {
                Phase::Prefill { done } if done + ids.len() < request.prompt_ids.len() => {
                    run.phase = Phase::Prefill {
                        done: done + ids.len(),
                    };
                    continue;
                }
                Phase::Prefill { .. } | Phase::Prefilled => {
                    if run.answer == 0 && group.answers.len() > 1 {
                        match logits.clone().detached().await {
                            Ok(kept) => group.prompt_logits = Some(kept),
                            Err(e) => {
                                group.failed = Some(JobError::Generate(e.into()));
                                slot.run = None;
                                continue;
                            }
                        }
                    }
                    Box::new(Decoding::new(&self.engine.format, request, run.answer))
                }
                Phase::Decode { decoding, .. } => decoding,
            };
            // Past its prompt: the request's other answers may start from this cache.
            group.prefilled |= run.answer == 0;
            if advance(group, run, decoding, logits).await {
                slot.run = None;
            }
        }
        self.finish_groups();
    }

    /// Gives each answer whose whole prompt was copied in its first token, from the prompt
    /// logits its request's first answer kept.
    async fn start_prefilled(&mut self) {
        for slot in &mut self.slots {
            let Some(run) = slot
                .run
                .as_mut()
                .filter(|r| matches!(r.phase, Phase::Prefilled))
            else {
                continue;
            };
            let group = group_of(&mut self.groups, run.group);
            let logits = group.prompt_logits.clone().expect("kept prompt logits");
            let decoding = Box::new(Decoding::new(
                &self.engine.format,
                &group.work.request,
                run.answer,
            ));
            if advance(group, run, decoding, logits).await {
                slot.run = None;
            }
        }
    }

    /// Ends what nobody listens to any more: its slots are free at this step.
    fn drop_abandoned(&mut self) {
        let gone: Vec<u64> = self
            .groups
            .iter()
            .filter(|g| g.work.events.is_closed())
            .map(|g| g.id)
            .collect();
        if gone.is_empty() {
            return;
        }
        for slot in &mut self.slots {
            if slot.run.as_ref().is_some_and(|r| gone.contains(&r.group)) {
                slot.run = None;
            }
        }
        self.groups.retain(|g| !gone.contains(&g.id));
    }

    /// Gives free slots to answers waiting for one, oldest request first.
    fn start_sequences(&mut self) {
        for g in 0..self.groups.len() {
            loop {
                let group = &self.groups[g];
                let waiting = group.started < group.answers.len() && group.failed.is_none();
                if !waiting || (group.started > 0 && !group.prefilled) {
                    break;
                }
                let Some(at) = self.best_slot(&group.work.request.prompt_ids) else {
                    return;
                };
                self.start(g, at);
            }
        }
    }

    /// The free slot to run `prompt` in: the one whose cache shares the longest prefix with
    /// it, else the least recently used.
    fn best_slot(&self, prompt: &[u32]) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].run.is_none())
            .max_by_key(|&i| {
                let slot = &self.slots[i];
                (
                    common_prefix(&slot.tokens, prompt),
                    u64::MAX - slot.last_used,
                )
            })
    }

    /// Starts the group's next answer in slot `at`, from the longest cached prefix of its
    /// prompt in any slot (copied in when it is another slot's).
    fn start(&mut self, g: usize, at: usize) {
        let group = &mut self.groups[g];
        let prompt = &group.work.request.prompt_ids;
        let (source, shared) = (0..self.slots.len())
            .map(|i| (i, common_prefix(&self.slots[i].tokens, prompt)))
            .max_by_key(|&(i, shared)| (shared, i == at))
            .expect("a slot");
        // A later answer takes the whole prompt and the first answer's prompt logits, so it
        // starts exactly where that answer did. Otherwise at least the prompt's last token
        // runs, for the logits the answer starts from.
        let whole = group.prompt_logits.is_some() && shared == prompt.len();
        let reuse = match whole {
            true => prompt.len(),
            false => shared.min(prompt.len().saturating_sub(1)),
        };
        if source != at && reuse > common_prefix(&self.slots[at].tokens, prompt) {
            let (cache, tokens) = (
                self.slots[source].cache.clone(),
                self.slots[source].tokens[..reuse].to_vec(),
            );
            self.slots[at].cache = cache;
            self.slots[at].tokens = tokens;
        }
        let reuse = reuse.min(self.slots[at].tokens.len());
        let slot = &mut self.slots[at];
        slot.cache.truncate(reuse);
        slot.tokens.truncate(reuse);
        if group.started == 0 {
            group.cached_tokens = reuse;
        }
        slot.run = Some(Run {
            group: group.id,
            answer: group.started,
            phase: match whole {
                true => Phase::Prefilled,
                false => Phase::Prefill { done: reuse },
            },
        });
        group.started += 1;
    }

    /// The tokens each running slot feeds this step: decoding sequences their next token,
    /// prompts a chunk each while the step's prefill budget lasts.
    fn plan(&self) -> Vec<(usize, Vec<u32>)> {
        let mut budget = self.options.prefill_chunk.max(1);
        let mut planned = Vec::new();
        for (at, slot) in self.slots.iter().enumerate() {
            let Some(run) = &slot.run else {
                continue;
            };
            match &run.phase {
                Phase::Decode { next, .. } => planned.push((at, vec![*next])),
                Phase::Prefill { done } if budget > 0 => {
                    let group = self.groups.iter().find(|g| g.id == run.group);
                    let prompt = &group
                        .expect("a running sequence's group")
                        .work
                        .request
                        .prompt_ids;
                    let take = budget.min(prompt.len() - done);
                    budget -= take;
                    planned.push((at, prompt[*done..done + take].to_vec()));
                }
                Phase::Prefill { .. } | Phase::Prefilled => {}
            }
        }
        planned
    }

    /// Reports each request whose answers are all in (or that failed), and forgets it. (One
    /// whose client went away is dropped at the next step.)
    fn finish_groups(&mut self) {
        let slots = &mut self.slots;
        self.groups.retain_mut(|group| {
            if let Some(e) = group.failed.take() {
                for slot in slots.iter_mut() {
                    if slot.run.as_ref().is_some_and(|r| r.group == group.id) {
                        slot.run = None;
                    }
                }
                let _ = group.work.events.try_send(JobEvent::Done(Err(e)));
                return false;
            }
            if !group.answers.iter().all(Option::is_some) {
                return true;
            }
            let answers = group.answers.iter_mut().map_while(Option::take).collect();
            let finished = Finished {
                answers,
                cached_tokens: group.cached_tokens as u32,
            };
            let _ = group.work.events.try_send(JobEvent::Done(Ok(finished)));
            false
        });
    }
}

fn group_of(groups: &mut VecDeque<Group>, id: u64) -> &mut Group {
    let group = groups.iter_mut().find(|g| g.id == id);
    group.expect("a running sequence's group")
}

/// Samples answer `run.answer`'s next token from `logits` and reports its text; whether the
/// answer ended (finished, or failed), which frees its slot.
async fn advance(
    group: &mut Group,
    run: &mut Run,
    mut decoding: Box<Decoding>,
    logits: Logits,
) -> bool {
    let events = &group.work.events;
    let cancel = &group.work.request.cancel;
    let index = run.answer;
    let mut on_delta = |text: &str| {
        if cancel.is_cancelled() {
            return false;
        }
        let delta = JobEvent::Delta {
            index,
            text: text.to_string(),
        };
        events.try_send(delta).is_ok()
    };
    match decoding.step(logits, &mut on_delta).await {
        Ok(Next::Feed(next)) => {
            run.phase = Phase::Decode { decoding, next };
            false
        }
        Ok(Next::Finished(answer)) => {
            group.answers[index] = Some(answer);
            true
        }
        Err(e) => {
            group.failed = Some(e.into());
            true
        }
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
