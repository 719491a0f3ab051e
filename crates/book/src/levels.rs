//! One side of the book as a dense array of price levels indexed by tick.
//!
//! Each level holds its queue's head and tail slots, the displayed quantity and the order
//! count. A two-level bitmap (one bit per level, one summary bit per 64-level word) finds the
//! next non-empty level in a few word scans, so an emptied best level costs O(range / 4096)
//! at worst, not a linear walk.

use crate::slab::{Slab, NIL};
use tokex_types::Side;

#[derive(Copy, Clone, Debug)]
struct Level {
    head: u32,
    tail: u32,
    count: u32,
    qty: u64,
}

const EMPTY: Level = Level {
    head: NIL,
    tail: NIL,
    count: 0,
    qty: 0,
};

pub struct Ladder {
    side: Side,
    levels: Vec<Level>,
    /// Bit `t % 64` of word `t / 64` is set when level `t` is non-empty.
    words: Vec<u64>,
    /// Bit `w % 64` of `summary[w / 64]` is set when `words[w] != 0`.
    summary: Vec<u64>,
    best: Option<u32>,
}

impl Ladder {
    pub fn new(side: Side) -> Ladder {
        Ladder {
            side,
            levels: Vec::new(),
            words: Vec::new(),
            summary: Vec::new(),
            best: None,
        }
    }

    #[inline]
    pub fn best(&self) -> Option<u32> {
        self.best
    }

    #[inline]
    pub fn head(&self, tick: u32) -> u32 {
        self.levels.get(tick as usize).map_or(NIL, |l| l.head)
    }

    #[inline]
    pub fn qty(&self, tick: u32) -> u64 {
        self.levels.get(tick as usize).map_or(0, |l| l.qty)
    }

    pub fn count(&self, tick: u32) -> u32 {
        self.levels.get(tick as usize).map_or(0, |l| l.count)
    }

    #[inline]
    fn is_better(&self, a: u32, b: u32) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    fn grow_to(&mut self, tick: u32) {
        let want = (tick as usize + 1).next_power_of_two().max(1024);
        if self.levels.len() < want {
            self.levels.resize(want, EMPTY);
            self.words.resize(want / 64, 0);
            self.summary.resize(want.div_ceil(64 * 64), 0);
        }
    }

    #[inline]
    pub fn push_back(&mut self, slab: &mut Slab, tick: u32, slot: u32) {
        if tick as usize >= self.levels.len() {
            self.grow_to(tick);
        }
        let visible = slab.get(slot).visible as u64;
        let level = &mut self.levels[tick as usize];
        let tail = level.tail;
        {
            let node = slab.get_mut(slot);
            node.prev = tail;
            node.next = NIL;
        }
        if tail == NIL {
            level.head = slot;
        } else {
            slab.get_mut(tail).next = slot;
        }
        level.tail = slot;
        level.count += 1;
        level.qty += visible;
        if level.count == 1 {
            self.mark(tick);
            if self.best.is_none_or(|b| self.is_better(tick, b)) {
                self.best = Some(tick);
            }
        }
    }

    #[inline]
    pub fn unlink(&mut self, slab: &mut Slab, tick: u32, slot: u32) {
        let (prev, next, visible) = {
            let n = slab.get(slot);
            (n.prev, n.next, n.visible as u64)
        };
        let level = &mut self.levels[tick as usize];
        if prev == NIL {
            level.head = next;
        } else {
            slab.get_mut(prev).next = next;
        }
        if next == NIL {
            level.tail = prev;
        } else {
            slab.get_mut(next).prev = prev;
        }
        level.count -= 1;
        level.qty -= visible;
        if level.count == 0 {
            debug_assert_eq!(level.qty, 0);
            self.unmark(tick);
            if self.best == Some(tick) {
                self.best = self.next_after(tick);
            }
        }
    }

    #[inline]
    pub fn sub_qty(&mut self, tick: u32, qty: u64) {
        self.levels[tick as usize].qty -= qty;
    }

    #[inline]
    fn mark(&mut self, tick: u32) {
        let w = (tick / 64) as usize;
        self.words[w] |= 1 << (tick % 64);
        self.summary[w / 64] |= 1 << (w % 64);
    }

    #[inline]
    fn unmark(&mut self, tick: u32) {
        let w = (tick / 64) as usize;
        self.words[w] &= !(1 << (tick % 64));
        if self.words[w] == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
    }

    /// The next non-empty level strictly worse than `tick`.
    pub fn next_after(&self, tick: u32) -> Option<u32> {
        match self.side {
            Side::Buy => self.prev_set_below(tick),
            Side::Sell => self.next_set_above(tick),
        }
    }

    fn next_set_above(&self, tick: u32) -> Option<u32> {
        let start = tick as usize + 1;
        if start >= self.levels.len() {
            return None;
        }
        let w = start / 64;
        let bits = self.words[w] & (!0u64 << (start % 64));
        if bits != 0 {
            return Some((w * 64 + bits.trailing_zeros() as usize) as u32);
        }
        // Find the next non-empty word through the summary.
        let sw_start = w + 1;
        let mut s = sw_start / 64;
        if s >= self.summary.len() {
            return None;
        }
        let mut sbits = self.summary[s] & (!0u64 << (sw_start % 64));
        loop {
            if sbits != 0 {
                let word = s * 64 + sbits.trailing_zeros() as usize;
                let b = self.words[word];
                return Some((word * 64 + b.trailing_zeros() as usize) as u32);
            }
            s += 1;
            if s >= self.summary.len() {
                return None;
            }
            sbits = self.summary[s];
        }
    }

    fn prev_set_below(&self, tick: u32) -> Option<u32> {
        if tick == 0 || self.levels.is_empty() {
            return None;
        }
        let end = (tick - 1).min(self.levels.len() as u32 - 1) as usize;
        let w = end / 64;
        let shift = 63 - (end % 64);
        let bits = (self.words[w] << shift) >> shift;
        if bits != 0 {
            return Some((w * 64 + 63 - bits.leading_zeros() as usize) as u32);
        }
        if w == 0 {
            return None;
        }
        let sw_end = w - 1;
        let mut s = sw_end / 64;
        let sshift = 63 - (sw_end % 64);
        let mut sbits = (self.summary[s] << sshift) >> sshift;
        loop {
            if sbits != 0 {
                let word = s * 64 + 63 - sbits.leading_zeros() as usize;
                let b = self.words[word];
                return Some((word * 64 + 63 - b.leading_zeros() as usize) as u32);
            }
            if s == 0 {
                return None;
            }
            s -= 1;
            sbits = self.summary[s];
        }
    }

    pub fn heap_bytes(&self) -> usize {
        self.levels.capacity() * std::mem::size_of::<Level>()
            + (self.words.capacity() + self.summary.capacity()) * 8
    }

    /// O(levels + orders) structural check.
    pub fn check(&self, slab: &Slab, side: Side) -> Result<(), String> {
        let mut best: Option<u32> = None;
        for (t, level) in self.levels.iter().enumerate() {
            let t = t as u32;
            let marked = self.words[(t / 64) as usize] & (1 << (t % 64)) != 0;
            if marked != (level.count > 0) {
                return Err(format!(
                    "{side:?} level {t}: bitmap says {marked}, count {}",
                    level.count
                ));
            }
            let (mut n, mut qty, mut slot, mut prev) = (0u32, 0u64, level.head, NIL);
            while slot != NIL {
                let node = slab.get(slot);
                if node.prev != prev || node.price != t || node.side() != side {
                    return Err(format!("{side:?} level {t}: broken link at slot {slot}"));
                }
                n += 1;
                qty += node.visible as u64;
                prev = slot;
                slot = node.next;
            }
            if n != level.count || qty != level.qty || prev != level.tail {
                return Err(format!(
                    "{side:?} level {t}: count {}/{n} qty {}/{qty}",
                    level.count, level.qty
                ));
            }
            if level.count > 0 && best.is_none_or(|b| self.is_better(t, b)) {
                best = Some(t);
            }
        }
        for (w, &word) in self.words.iter().enumerate() {
            let s = self.summary[w / 64] & (1 << (w % 64)) != 0;
            if s != (word != 0) {
                return Err(format!("{side:?} summary bit for word {w} wrong"));
            }
        }
        if best != self.best {
            return Err(format!(
                "{side:?} best cached {:?}, actual {best:?}",
                self.best
            ));
        }
        Ok(())
    }
}
