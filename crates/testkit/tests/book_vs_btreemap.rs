//! The dense-ladder book against a plain `BTreeMap<price, VecDeque<order>>` model: insert,
//! remove, reduce, fill the front; after every operation the best prices, depth, every queue
//! in order, lookups and the book's own invariants must agree.

use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use tokex_book::{Book, BookError, Resting};
use tokex_types::{AccountId, OrderId, Price, Qty, Side};

#[derive(Clone, Debug)]
enum Op {
    Insert {
        side: Side,
        price: i64,
        leaves: u64,
        display: u64,
    },
    /// Insert with the id of an order already in the book (must be refused).
    InsertDuplicate(usize),
    Remove(usize),
    Reduce(usize, u64),
    FillFront(Side, u64),
}

#[derive(Clone, Debug)]
struct M {
    id: u64,
    leaves: u64,
    visible: u64,
    display: u64,
}

#[derive(Default)]
struct Model {
    sides: [BTreeMap<i64, VecDeque<M>>; 2],
    ids: Vec<(u64, Side, i64)>,
}

fn si(s: Side) -> usize {
    s as usize
}

impl Model {
    fn best(&self, s: Side) -> Option<i64> {
        match s {
            Side::Buy => self.sides[0].keys().next_back().copied(),
            Side::Sell => self.sides[1].keys().next().copied(),
        }
    }
    fn levels(&self, s: Side) -> Vec<(i64, &VecDeque<M>)> {
        let mut v: Vec<_> = self.sides[si(s)].iter().map(|(p, q)| (*p, q)).collect();
        if s == Side::Buy {
            v.reverse();
        }
        v
    }
    fn remove(&mut self, id: u64) -> Option<M> {
        let k = self.ids.iter().position(|x| x.0 == id)?;
        let (_, s, p) = self.ids.remove(k);
        let q = self.sides[si(s)].get_mut(&p).unwrap();
        let i = q.iter().position(|m| m.id == id).unwrap();
        let m = q.remove(i).unwrap();
        if q.is_empty() {
            self.sides[si(s)].remove(&p);
        }
        Some(m)
    }
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (side(), prop_oneof![9 => 95i64..=105, 1 => 1i64..=5000], 1u64..=20, prop_oneof![3 => Just(0u64), 1 => 1u64..=5])
            .prop_map(|(side, price, leaves, display)| Op::Insert { side, price, leaves, display }),
        1 => any::<usize>().prop_map(Op::InsertDuplicate),
        2 => any::<usize>().prop_map(Op::Remove),
        2 => (any::<usize>(), 1u64..20).prop_map(|(i, q)| Op::Reduce(i, q)),
        4 => (side(), 1u64..=30).prop_map(|(s, q)| Op::FillFront(s, q)),
    ]
}

fn check(book: &Book, m: &Model) -> Result<(), TestCaseError> {
    book.check_invariants().map_err(TestCaseError::fail)?;
    prop_assert_eq!(book.len(), m.ids.len());
    for s in [Side::Buy, Side::Sell] {
        prop_assert_eq!(book.best(s).map(|p| p.0), m.best(s));
        let want: Vec<(i64, u64, u32)> = m
            .levels(s)
            .iter()
            .map(|(p, q)| (*p, q.iter().map(|o| o.visible).sum(), q.len() as u32))
            .collect();
        let got: Vec<(i64, u64, u32)> = book
            .depth(s, usize::MAX)
            .iter()
            .map(|(p, q, n)| (p.0, q.0, *n))
            .collect();
        prop_assert_eq!(&got, &want);
        let got3: Vec<_> = book
            .depth(s, 3)
            .iter()
            .map(|(p, q, n)| (p.0, q.0, *n))
            .collect();
        prop_assert_eq!(&got3[..], &want[..want.len().min(3)]);
        let got_orders: Vec<(u64, i64, u64, u64)> = book
            .orders(s)
            .map(|o| (o.id.0, o.price.0, o.leaves.0, o.visible.0))
            .collect();
        let want_orders: Vec<(u64, i64, u64, u64)> = m
            .levels(s)
            .iter()
            .flat_map(|(p, q)| q.iter().map(move |o| (o.id, *p, o.leaves, o.visible)))
            .collect();
        prop_assert_eq!(got_orders, want_orders);
    }
    Ok(())
}

fn resting(id: u64, side: Side, price: i64, leaves: u64, display: u64) -> Resting {
    Resting {
        id: OrderId(id),
        account: AccountId(1),
        side,
        price: Price(price),
        leaves: Qty(leaves),
        visible: Qty(if display > 0 {
            display.min(leaves)
        } else {
            leaves
        }),
        display: Qty(display),
        filled: Qty(0),
        tag: 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn book_matches_a_btreemap_model(ops in prop::collection::vec(op(), 1..200)) {
        let mut book = Book::new();
        let mut m = Model::default();
        let mut next = 1u64;
        for op in ops {
            match op {
                Op::Insert { side, price, leaves, display } => {
                    let r = resting(next, side, price, leaves, display);
                    prop_assert_eq!(book.insert(r), Ok(()));
                    m.sides[si(side)].entry(price).or_default().push_back(M {
                        id: next, leaves, visible: r.visible.0, display,
                    });
                    m.ids.push((next, side, price));
                    next += 1;
                }
                Op::InsertDuplicate(k) => {
                    if m.ids.is_empty() { continue; }
                    let (id, side, price) = m.ids[k % m.ids.len()];
                    prop_assert_eq!(book.insert(resting(id, side, price, 1, 0)), Err(BookError::DuplicateId));
                }
                Op::Remove(k) => {
                    if m.ids.is_empty() {
                        prop_assert!(book.remove(OrderId(next)).is_none());
                        continue;
                    }
                    let id = m.ids[k % m.ids.len()].0;
                    let want = m.remove(id).unwrap();
                    let got = book.remove(OrderId(id)).expect("in the book");
                    prop_assert_eq!((got.leaves.0, got.visible.0), (want.leaves, want.visible));
                    prop_assert!(book.get(OrderId(id)).is_none());
                }
                Op::Reduce(k, q) => {
                    if m.ids.is_empty() { continue; }
                    let (id, s, p) = m.ids[k % m.ids.len()];
                    let o = m.sides[si(s)].get_mut(&p).unwrap().iter_mut().find(|o| o.id == id).unwrap();
                    if q >= o.leaves { continue; }
                    o.leaves = q;
                    o.visible = o.visible.min(q);
                    let got = book.reduce(OrderId(id), Qty(q)).expect("in the book");
                    prop_assert_eq!((got.leaves.0, got.visible.0), (o.leaves, o.visible));
                }
                Op::FillFront(s, q) => {
                    let Some(p) = m.best(s) else {
                        prop_assert!(book.fill_front(s, Qty(q)).is_none());
                        continue;
                    };
                    let level = m.sides[si(s)].get_mut(&p).unwrap();
                    let mut o = level.pop_front().unwrap();
                    let take = q.min(o.visible);
                    o.leaves -= take;
                    o.visible -= take;
                    let mut refilled = false;
                    let (id, leaves_after) = (o.id, o.leaves);
                    if o.leaves == 0 {
                        if level.is_empty() { m.sides[si(s)].remove(&p); }
                        m.ids.retain(|x| x.0 != id);
                    } else if o.visible == 0 {
                        o.visible = o.display.min(o.leaves);
                        refilled = true;
                        level.push_back(o);
                    } else {
                        level.push_front(o);
                    }
                    let f = book.fill_front(s, Qty(q)).expect("non-empty side");
                    prop_assert_eq!(
                        (f.order.id.0, f.qty.0, f.leaves_after.0, f.refilled),
                        (id, take, leaves_after, refilled)
                    );
                }
            }
            check(&book, &m)?;
            for &(id, s, p) in &m.ids {
                let o = book.get(OrderId(id)).expect("every model order is in the book");
                prop_assert_eq!((o.side, o.price.0), (s, p));
            }
        }
    }
}
