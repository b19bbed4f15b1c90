//! `render_each`: a template rendered once for each item of a list, kept for the next builds.
//!
//! A list of posts renders the same entry for a post on every build that shifts the list: a
//! new post on a large site moves every post onto another pager, and each pager renders its
//! entries again, though no entry changed. `render_each(template=…, items=…, …)` renders
//! `template` once per item, with the item as `item`, the other arguments and `config` in the
//! context and nothing else, and joins the results. A long-running engine (`kiln watch`,
//! `kiln serve`, the sidecar) keeps each item's result for the next build that asks for the
//! same template with the same arguments; `kiln build` keeps nothing.
//!
//! The arguments are the whole key, so a result is kept only when each of them is known by
//! its content: scalars are, and so is a page value the build made itself (a page of
//! `section.pages` or `paginator.pages`), which is known by its digest. A render that called a
//! template function (`get_url`, `now`, …) is never kept: what such a call returns can change
//! while the arguments stay the same. Templates and the config are fixed for the life of a
//! [`Templates`], which a change to either replaces, kept results and all.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use rustc_hash::{FxHashMap, FxHashSet};
use tera::value::ValueKind;
use tera::{Context, Kwargs, TeraResult, Value};

use crate::digest::Digest;
use crate::templates::{self, Templates};

scoped_tls::scoped_thread_local! {
    /// The templates of the render under way on this thread, for `render_each` to render
    /// with.
    static RENDERING: Templates
}

/// Runs `render` with `templates` as the templates `render_each` renders through.
pub fn rendering<T>(templates: &Templates, render: impl FnOnce() -> T) -> T {
    RENDERING.set(templates, render)
}

/// The results `render_each` keeps between builds, and the page values they are keyed by.
#[derive(Default)]
pub struct Fragments {
    /// Whether results are kept: only an engine that builds again keeps them.
    keep: AtomicBool,
    /// The page values results are keyed by.
    known: RwLock<Known>,
    /// Results by key, with the digest of the page each shows.
    kept: Mutex<FxHashMap<u128, (Digest, Value)>>,
    /// How many results were kept after the last pruning.
    pruned_at: AtomicUsize,
}

/// Each page value the build made, by the address of its map, with its digest. The values
/// are held in `pinned`, so no address is reused while it is in `digests`.
#[derive(Default)]
struct Known {
    pinned: Vec<Value>,
    digests: FxHashMap<usize, Digest>,
}

impl Fragments {
    /// Keeps results from now on.
    pub fn keep(&self) {
        self.keep.store(true, Ordering::Relaxed);
    }

    fn keeps(&self) -> bool {
        self.keep.load(Ordering::Relaxed)
    }

    /// Makes `values` (with their `digests`, in the same order) the page values results can
    /// be keyed by, and forgets kept results of pages that are no longer among them once
    /// enough have gone stale to be worth a pass.
    pub fn know(&self, values: &[Value], digests: &[Digest]) {
        if !self.keeps() {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        let Known { pinned, digests: by_address } = &mut *known;
        if pinned.len() != values.len() {
            by_address.clear();
            let addressed = values.iter().zip(digests).filter_map(|(v, d)| Some((address(v)?, *d)));
            by_address.extend(addressed);
            *pinned = values.to_vec();
        } else {
            for ((old, new), digest) in pinned.iter_mut().zip(values).zip(digests) {
                if address(old) != address(new) {
                    if let Some(gone) = address(old) {
                        by_address.remove(&gone);
                    }
                    if let Some(at) = address(new) {
                        by_address.insert(at, *digest);
                    }
                    *old = new.clone();
                }
            }
        }
        drop(known);
        let mut kept = lock(&self.kept);
        let pruned_at = self.pruned_at.load(Ordering::Relaxed);
        if kept.len() > pruned_at + (pruned_at / 8).max(1024) {
            let current: FxHashSet<&Digest> = digests.iter().collect();
            kept.retain(|_, (page, _)| current.contains(page));
            self.pruned_at.store(kept.len(), Ordering::Relaxed);
        }
    }

    /// What the arguments besides `template` and `items` add to each item's key: `None`
    /// when one of them is not known by its content.
    fn args_key(&self, template: &str, kwargs: &Kwargs) -> Option<Vec<u8>> {
        let mut bytes = Vec::with_capacity(128);
        field(&mut bytes, template.as_bytes());
        for (name, value) in kwargs.iter() {
            let name = name.as_str()?;
            if name == "template" || name == "items" {
                continue;
            }
            field(&mut bytes, name.as_bytes());
            match value.kind() {
                ValueKind::String => {
                    field(&mut bytes, if value.is_safe() { b"safe" } else { b"text" });
                    field(&mut bytes, value.as_str()?.as_bytes());
                }
                ValueKind::None => field(&mut bytes, b"none"),
                // A template can tell `1` from `1.0` and `true`, so the kind is in the key.
                kind @ (ValueKind::Bool | ValueKind::U64 | ValueKind::I64 | ValueKind::F64) => {
                    field(&mut bytes, format!("{kind:?}").as_bytes());
                    field(&mut bytes, value.to_string().as_bytes());
                }
                _ => return None,
            }
        }
        Some(bytes)
    }
}

fn field(bytes: &mut Vec<u8>, text: &[u8]) {
    bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
    bytes.extend_from_slice(text);
}

/// `render_each(template=…, items=[…], …)`: renders `template` once for each of `items`, with
/// the item as `item`, the other arguments and `config`, and joins the results. A long-running
/// engine returns what it rendered before for an item it has seen with the same arguments.
pub fn render_each(kwargs: Kwargs) -> TeraResult<Value> {
    let fail = |message: String| Err(tera::Error::message(format!("render_each: {message}")));
    let Some(name) = kwargs.get::<Value>("template")? else {
        return fail("`template` is missing: the template to render for each item".into());
    };
    let Some(template) = name.as_str().map(str::to_string) else {
        return fail(format!("`template` must be a template's name, not `{name}`"));
    };
    let Some(list) = kwargs.get::<Value>("items")? else {
        return fail(format!("`items` is missing: the list to render `{template}` for"));
    };
    let items: &[Value] = match list.as_array() {
        Some(items) => items,
        None if list.is_none() || list.is_undefined() => &[],
        None => return fail("`items` must be a list".into()),
    };
    for reserved in ["item", "config"] {
        if kwargs.get::<Value>(reserved)?.is_some() {
            return fail(format!(
                "`{template}` gets `{reserved}` from render_each itself; pass this argument under \
                 another name"
            ));
        }
    }
    if !RENDERING.is_set() {
        return Err(tera::Error::message("render_each: only templates can call it"));
    }
    RENDERING.with(|templates| {
        if !templates.has(&template) {
            let message = format!("render_each: there is no template `{template}`");
            return Err(tera::Error::message(message));
        }
        let fragments = &templates.fragments;
        let args = if fragments.keeps() { fragments.args_key(&template, &kwargs) } else { None };
        // Each item's key, with its page's digest, or `None` for an item not known by content.
        let keys: Vec<Option<(u128, Digest)>> = match &args {
            Some(args) => {
                let known = fragments.known.read().unwrap_or_else(|e| e.into_inner());
                let mut bytes = args.clone();
                items
                    .iter()
                    .map(|item| {
                        let digest = *known.digests.get(&address(item)?)?;
                        bytes.truncate(args.len());
                        field(&mut bytes, &digest);
                        Some((xxhash_rust::xxh3::xxh3_128(&bytes), digest))
                    })
                    .collect()
            }
            None => vec![None; items.len()],
        };
        let mut found: Vec<Option<Value>> = {
            let kept = lock(&fragments.kept);
            keys.iter()
                .map(|key| key.and_then(|(key, _)| kept.get(&key).map(|(_, html)| html.clone())))
                .collect()
        };
        let mut fresh = Vec::new();
        if found.iter().any(Option::is_none) {
            let mut context = Context::new();
            if let Some(config) = &templates.current_lookup().config {
                context.insert_value("config", config.clone());
            }
            for (name, value) in kwargs.iter() {
                if !matches!(name.as_str(), Some("template" | "items")) {
                    context.insert_value(name.to_string(), value.clone());
                }
            }
            let _nested = Nested::enter(&template)?;
            for ((slot, item), key) in found.iter_mut().zip(items).zip(&keys) {
                if slot.is_some() {
                    continue;
                }
                context.insert_value("item", item.clone());
                let mut out = Vec::with_capacity(2048);
                let (rendered, calls) =
                    templates::traced(|| templates.tera.render_to(&template, &context, &mut out));
                let pure = calls.is_empty();
                templates::record_calls(calls);
                if let Err(err) = rendered {
                    let which = match item.get_from_path("content_path").and_then(Value::as_str) {
                        Some(path) => format!("the item `content/{path}`"),
                        None => format!("the item `{item}`"),
                    };
                    let causes = templates::causes(&err);
                    let message = format!("render_each: `{template}` for {which}: {err}{causes}");
                    return Err(tera::Error::message(message));
                }
                let text =
                    String::from_utf8(out).map_err(|err| tera::Error::message(err.to_string()))?;
                let html = Value::safe_string(&text);
                if pure && let Some((key, page)) = key {
                    fresh.push((*key, (*page, html.clone())));
                }
                *slot = Some(html);
            }
        }
        if !fresh.is_empty() {
            lock(&fragments.kept).extend(fresh);
        }
        let mut joined = String::with_capacity(found.iter().flatten().map(html_len).sum());
        for html in found.iter().flatten() {
            joined.push_str(html.as_str().unwrap_or_default());
        }
        Ok(Value::safe_string(&joined))
    })
}

thread_local! {
    /// The templates `render_each` is rendering on this thread, outermost first.
    static NESTED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A template on [`NESTED`] while `render_each` renders it.
struct Nested;

impl Nested {
    /// Puts `template` on the stack, or fails if it is there already: a template that
    /// renders itself through `render_each` would never end.
    fn enter(template: &str) -> TeraResult<Nested> {
        NESTED.with(|nested| {
            let mut nested = nested.borrow_mut();
            if nested.iter().any(|outer| outer == template) {
                let chain: Vec<&str> = nested.iter().map(String::as_str).collect();
                return Err(tera::Error::message(format!(
                    "render_each: `{template}` renders itself: {} → {template}",
                    chain.join(" → ")
                )));
            }
            nested.push(template.to_string());
            Ok(Nested)
        })
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        NESTED.with(|nested| nested.borrow_mut().pop());
    }
}

/// Where a map value's map lives: what tells one page value from another while both are held.
fn address(value: &Value) -> Option<usize> {
    value.as_map().map(|map| map as *const _ as usize)
}

fn html_len(html: &Value) -> usize {
    html.as_str().map_or(0, str::len)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
