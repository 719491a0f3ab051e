//! The order slab: one `Vec` of fixed-size nodes, a free list threaded through `next`, and
//! intrusive `prev`/`next` links that make each price level a doubly linked FIFO queue.

use crate::Resting;
use tokex_types::{AccountId, OrderId, Price, Qty, Side};

pub const NIL: u32 = u32::MAX;

/// 48 bytes: the whole per-order footprint of the book apart from the id index entry.
#[derive(Copy, Clone, Debug)]
pub struct Node {
    pub id: u64,
    pub account: u32,
    pub price: u32,
    pub leaves: u32,
    pub visible: u32,
    pub display: u32,
    pub filled: u32,
    pub prev: u32,
    pub next: u32,
    pub tag: u16,
    side: u8,
}

const _: () = assert!(std::mem::size_of::<Node>() <= 48);

impl Node {
    pub fn from_resting(o: &Resting) -> Node {
        // Quantities are bounded by ORDER_QTY_MAX_CONTRACTS, far below u32::MAX.
        Node {
            id: o.id.0,
            account: o.account.0,
            price: o.price.0 as u32,
            leaves: u32::try_from(o.leaves.0).expect("order quantity above u32"),
            visible: o.visible.0 as u32,
            display: o.display.0 as u32,
            filled: u32::try_from(o.filled.0).expect("filled quantity above u32"),
            prev: NIL,
            next: NIL,
            tag: o.tag,
            side: matches!(o.side, Side::Sell) as u8,
        }
    }

    #[inline]
    pub fn side(&self) -> Side {
        if self.side == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    #[inline]
    pub fn to_resting(self) -> Resting {
        Resting {
            id: OrderId(self.id),
            account: AccountId(self.account),
            side: self.side(),
            price: Price(self.price as i64),
            leaves: Qty(self.leaves as u64),
            visible: Qty(self.visible as u64),
            display: Qty(self.display as u64),
            filled: Qty(self.filled as u64),
            tag: self.tag,
        }
    }
}

pub struct Slab {
    nodes: Vec<Node>,
    free_head: u32,
}

impl Slab {
    pub fn new() -> Slab {
        Slab {
            nodes: Vec::new(),
            free_head: NIL,
        }
    }

    #[inline]
    pub fn alloc(&mut self, node: Node) -> u32 {
        if self.free_head != NIL {
            let slot = self.free_head;
            self.free_head = self.nodes[slot as usize].next;
            self.nodes[slot as usize] = node;
            slot
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    #[inline]
    pub fn free(&mut self, slot: u32) {
        let n = &mut self.nodes[slot as usize];
        n.next = self.free_head;
        n.prev = NIL;
        n.leaves = 0;
        self.free_head = slot;
    }

    #[inline]
    pub fn get(&self, slot: u32) -> &Node {
        &self.nodes[slot as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Node {
        &mut self.nodes[slot as usize]
    }

    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
    }
}
