//! Application messages from a logged-on session: order entry (D, F, G, H, q), the security
//! list (x), and BusinessMessageReject (j) for valid messages the exchange does not support.

use crate::codec::{tag, Message};
use crate::gateway::{Context, Gateway};
use crate::orders::{self, GatewayReject};
use std::sync::Arc;
use tokex_engine::{Command, OrderRef};
use tokex_types::AccountId;

/// Handles one application message of session `idx`.
pub async fn handle(gw: &Arc<Gateway>, idx: usize, m: Message) {
    let account = AccountId(gw.slots[idx].lock().expect("session").session.cfg.account);
    match m.msg_type() {
        "D" => new_order(gw, idx, account, &m).await,
        "F" => cancel_or_replace(gw, idx, account, &m, false).await,
        "G" => cancel_or_replace(gw, idx, account, &m, true).await,
        "H" => status(gw, idx, account, &m),
        "q" => mass_cancel(gw, idx, account, &m).await,
        "x" => security_list(gw, idx, &m),
        "j" => tracing::warn!(
            text = m.get(tag::TEXT).unwrap_or(""),
            "the client rejected a message"
        ),
        other => {
            let mut r = Message::new("j")
                .with(tag::REF_SEQ_NUM, m.get(tag::MSG_SEQ_NUM).unwrap_or("0"))
                .with(tag::REF_MSG_TYPE, other)
                .with(tag::BUSINESS_REJECT_REASON, 3);
            r.push(
                tag::TEXT,
                format!("MsgType {other} is not supported by Tokex"),
            );
            gw.deliver(idx, r);
        }
    }
}

fn reject_new(gw: &Gateway, idx: usize, account: AccountId, m: &Message, r: GatewayReject) {
    gw.deliver(idx, orders::new_order_reject(m, account, r));
}

async fn new_order(gw: &Arc<Gateway>, idx: usize, account: AccountId, m: &Message) {
    let sym = m.get(tag::SYMBOL).unwrap_or("");
    let ins = gw
        .instruments
        .lock()
        .expect("instruments")
        .by_symbol(sym)
        .cloned();
    let Some(ins) = ins.filter(|i| !i.delisted) else {
        let text = format!("unknown symbol {sym:?}: symbols look like TKF-2026-12 (SecurityListRequest lists them)");
        return reject_new(gw, idx, account, m, GatewayReject { reason: 1, text });
    };
    let o = match orders::new_order(m, account, &ins) {
        Ok(o) => o,
        Err(r) => return reject_new(gw, idx, account, m, r),
    };
    let cl = m.get(tag::CL_ORD_ID).unwrap_or("").to_string();
    if let Err(e) = gw
        .submit(idx, Command::NewOrder(o), Context::New { cl })
        .await
    {
        reject_new(
            gw,
            idx,
            account,
            m,
            GatewayReject {
                reason: 0,
                text: e.to_string(),
            },
        );
    }
}

async fn cancel_or_replace(
    gw: &Arc<Gateway>,
    idx: usize,
    account: AccountId,
    m: &Message,
    replace: bool,
) {
    let cl = m.get(tag::CL_ORD_ID).unwrap_or("").to_string();
    let orig = m.get(tag::ORIG_CL_ORD_ID).unwrap_or("").to_string();
    let response_to = if replace { '2' } else { '1' };
    let t = gw
        .tracker
        .lock()
        .expect("tracker")
        .find(account, Some(&orig), m.get(tag::ORDER_ID))
        .cloned();
    let Some(t) = t else {
        let text = format!("unknown order: OrigClOrdID {orig:?}");
        return gw.cancel_reject(
            idx,
            &cl,
            &orig,
            OrderRef::Client(tokex_types::ClientOrderId::new("x").expect("id")),
            response_to,
            1,
            &text,
        );
    };
    if t.done.is_some() {
        return gw.cancel_reject(
            idx,
            &cl,
            &orig,
            OrderRef::Id(t.order_id),
            response_to,
            0,
            "too late: the order is no longer working",
        );
    }
    if let Err(r) = orders::cl_ord_id(Some(&cl)) {
        return gw.cancel_reject(
            idx,
            &cl,
            &orig,
            OrderRef::Id(t.order_id),
            response_to,
            99,
            &r.text,
        );
    }
    let (cmd, ctx) = if replace {
        let ins = gw
            .instruments
            .lock()
            .expect("instruments")
            .get(t.instrument)
            .cloned();
        let Some(ins) = ins else { return };
        match orders::amend(m, &t, &ins) {
            Ok(a) => (
                Command::Amend(a),
                Context::Replace {
                    cl: cl.clone(),
                    orig: orig.clone(),
                },
            ),
            Err(r) => {
                return gw.cancel_reject(
                    idx,
                    &cl,
                    &orig,
                    OrderRef::Id(t.order_id),
                    response_to,
                    99,
                    &r.text,
                )
            }
        }
    } else {
        (
            Command::Cancel(orders::cancel(&t)),
            Context::Cancel {
                cl: cl.clone(),
                orig: orig.clone(),
            },
        )
    };
    if let Err(e) = gw.submit(idx, cmd, ctx).await {
        gw.cancel_reject(
            idx,
            &cl,
            &orig,
            OrderRef::Id(t.order_id),
            response_to,
            99,
            &e.to_string(),
        );
    }
}

fn status(gw: &Gateway, idx: usize, account: AccountId, m: &Message) {
    let cl = m.get(tag::CL_ORD_ID);
    let t = gw
        .tracker
        .lock()
        .expect("tracker")
        .find(account, cl, m.get(tag::ORDER_ID))
        .cloned();
    let exec_id = format!("S-{}", m.get(tag::MSG_SEQ_NUM).unwrap_or("0"));
    let er = match t {
        Some(t) => {
            let ins = gw
                .instruments
                .lock()
                .expect("instruments")
                .get(t.instrument)
                .cloned();
            orders::execution_report(&t, ins.as_ref(), &exec_id, 'I')
        }
        None => Message::new("8")
            .with(tag::ORDER_ID, m.get(tag::ORDER_ID).unwrap_or("NONE"))
            .with(tag::CL_ORD_ID, cl.unwrap_or("NONE"))
            .with(tag::EXEC_ID, exec_id)
            .with(tag::EXEC_TYPE, 'I')
            .with(tag::ORD_STATUS, '8')
            .with(tag::SYMBOL, m.get(tag::SYMBOL).unwrap_or("?"))
            .with(tag::SIDE, m.get(tag::SIDE).unwrap_or("1"))
            .with(tag::LEAVES_QTY, 0)
            .with(tag::CUM_QTY, 0)
            .with(tag::AVG_PX, 0)
            .with(tag::TEXT, "unknown order"),
    };
    gw.deliver(idx, er);
}

async fn mass_cancel(gw: &Arc<Gateway>, idx: usize, account: AccountId, m: &Message) {
    let cl = m.get(tag::CL_ORD_ID).unwrap_or("").to_string();
    let request_type = m
        .get(tag::MASS_CANCEL_REQUEST_TYPE)
        .unwrap_or("")
        .to_string();
    let result = {
        let ins = gw.instruments.lock().expect("instruments");
        orders::mass_cancel(m, account, &ins)
    };
    let reject = |reason: u32, text: String| {
        Message::new("r")
            .with(tag::CL_ORD_ID, &cl)
            .with(tag::ORDER_ID, "NONE")
            .with(tag::MASS_CANCEL_REQUEST_TYPE, &request_type)
            .with(tag::MASS_CANCEL_RESPONSE, 0)
            .with(tag::MASS_CANCEL_REJECT_REASON, reason)
            .with(tag::TEXT, text)
    };
    match result {
        Ok(mc) => {
            let ctx = Context::Mass {
                cl: cl.clone(),
                request_type: request_type.clone(),
            };
            if let Err(e) = gw.submit(idx, Command::MassCancel(mc), ctx).await {
                gw.deliver(idx, reject(99, e.to_string()));
            }
        }
        Err((reason, text)) => gw.deliver(idx, reject(reason, text)),
    }
}

/// SecurityListRequest (x): 4 = all instruments, 0 = one Symbol; answered with one
/// SecurityList (y) carrying every listed instrument.
fn security_list(gw: &Gateway, idx: usize, m: &Message) {
    let req = m.get(tag::SECURITY_REQ_ID).unwrap_or("").to_string();
    let kind = m.get(tag::SECURITY_LIST_REQUEST_TYPE).unwrap_or("");
    let ins = gw.instruments.lock().expect("instruments");
    let products = gw.handle.products();
    let selected: Vec<_> = match kind {
        "4" => ins.by_id.values().filter(|i| !i.delisted).collect(),
        "0" => ins
            .by_symbol(m.get(tag::SYMBOL).unwrap_or(""))
            .filter(|i| !i.delisted)
            .into_iter()
            .collect(),
        _ => {
            let y = Message::new("y")
                .with(tag::SECURITY_REQ_ID, &req)
                .with(tag::SECURITY_RESPONSE_ID, format!("{req}-0"))
                .with(tag::SECURITY_REQUEST_RESULT, 1)
                .with(
                    tag::TEXT,
                    "SecurityListRequestType must be 0 (symbol) or 4 (all)",
                );
            drop(ins);
            return gw.deliver(idx, y);
        }
    };
    let mut y = Message::new("y")
        .with(tag::SECURITY_REQ_ID, &req)
        .with(tag::SECURITY_RESPONSE_ID, format!("{req}-1"))
        .with(
            tag::SECURITY_REQUEST_RESULT,
            if selected.is_empty() { 2 } else { 0 },
        )
        .with(tag::TOT_NO_RELATED_SYM, selected.len())
        .with(tag::LAST_FRAGMENT, "Y")
        .with(tag::NO_RELATED_SYM, selected.len());
    for i in selected {
        y.push(tag::SYMBOL, &i.symbol);
        y.push(tag::SECURITY_ID, i.id.0);
        y.push(tag::SECURITY_ID_SOURCE, 8);
        y.push(tag::SECURITY_TYPE, "FUT");
        y.push(
            tag::MATURITY_MONTH_YEAR,
            format!("{:04}{:02}", i.year, i.month),
        );
        y.push(tag::MATURITY_DATE, i.last_trading_day.format("%Y%m%d"));
        let p = products.get(&i.product);
        if let Some(p) = p {
            y.push(tag::CONTRACT_MULTIPLIER, p.contract_size());
        }
        let desc = match p {
            Some(p) => format!(
                "{}; tick {} {}; underlying {}",
                p.name(),
                i.tick,
                p.quote_unit(),
                p.underlying()
            ),
            None => format!("tick {}", i.tick),
        };
        y.push(tag::SECURITY_DESC, desc);
        y.push(tag::CURRENCY, i.currency);
    }
    drop(ins);
    gw.deliver(idx, y);
}
