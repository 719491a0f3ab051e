//! Binary encoding of commands for the journal: `(time, command)` ⇄ bytes.
//!
//! The journal frames and checksums each record; this module only gives a command a stable,
//! versioned byte form. Tags are part of the on-disk format: never reuse or renumber one,
//! only add.

use crate::command::*;
use crate::snapshot::*;
use tokex_types::*;

/// Version of the command encoding, the first byte of every record.
pub const COMMAND_CODEC_VERSION: u8 = 1;

fn enc_order_ref(e: &mut Enc, r: OrderRef) {
    match r {
        OrderRef::Id(id) => {
            e.u8(0);
            e.u64(id.0)
        }
        OrderRef::Client(c) => {
            e.u8(1);
            e.str(c.as_str())
        }
    }
}

fn order_ref_of(d: &mut Dec) -> DecResult<OrderRef> {
    match d.u8()? {
        0 => Ok(OrderRef::Id(OrderId(d.u64()?))),
        1 => {
            let s = d.str()?;
            Ok(OrderRef::Client(
                ClientOrderId::new(&s).ok_or("bad client order id")?,
            ))
        }
        v => Err(format!("bad order ref {v}")),
    }
}

fn order_type_code(t: OrderType) -> u8 {
    match t {
        OrderType::Limit => 0,
        OrderType::Market => 1,
        OrderType::StopLimit => 2,
        OrderType::StopMarket => 3,
    }
}

fn order_type_of(d: &mut Dec) -> DecResult<OrderType> {
    Ok(match d.u8()? {
        0 => OrderType::Limit,
        1 => OrderType::Market,
        2 => OrderType::StopLimit,
        3 => OrderType::StopMarket,
        v => return Err(format!("bad order type {v}")),
    })
}

fn opt_price(e: &mut Enc, p: Option<Price>) {
    e.opt(p, |e, p| e.i64(p.0));
}
fn opt_qty(e: &mut Enc, q: Option<Qty>) {
    e.opt(q, |e, q| e.u64(q.0));
}
fn price_of(d: &mut Dec) -> DecResult<Option<Price>> {
    d.opt(|d| Ok(Price(d.i64()?)))
}
fn qty_of(d: &mut Dec) -> DecResult<Option<Qty>> {
    d.opt(|d| Ok(Qty(d.u64()?)))
}

/// Encodes a command stamped at `time`.
pub fn encode_command(time: Timestamp, cmd: &Command) -> Vec<u8> {
    let mut e = Enc::default();
    e.u8(COMMAND_CODEC_VERSION);
    e.u64(time.0);
    match cmd {
        Command::CreateAccount { account, role, stp } => {
            e.u8(1);
            e.u32(account.0);
            e.u8(*role as u8);
            e.u8(*stp as u8);
        }
        Command::ListInstrument(spec) => {
            e.u8(2);
            enc_spec(&mut e, spec);
        }
        Command::NewOrder(o) => {
            e.u8(3);
            e.u32(o.account.0);
            e.u32(o.instrument.0);
            enc_clid(&mut e, o.client_order_id);
            e.u8(side_code(o.side));
            e.u8(order_type_code(o.order_type));
            opt_price(&mut e, o.price);
            opt_price(&mut e, o.stop_price);
            e.u64(o.qty.0);
            enc_tif(&mut e, o.tif);
            opt_qty(&mut e, o.min_qty);
            opt_qty(&mut e, o.display_qty);
            e.bool(o.post_only);
            e.opt(o.stp, |e, s| e.u8(s as u8));
        }
        Command::Amend(a) => {
            e.u8(4);
            e.u32(a.account.0);
            e.u32(a.instrument.0);
            enc_order_ref(&mut e, a.order);
            opt_price(&mut e, a.price);
            opt_qty(&mut e, a.qty);
            opt_price(&mut e, a.stop_price);
        }
        Command::Cancel(c) => {
            e.u8(5);
            e.u32(c.account.0);
            e.u32(c.instrument.0);
            enc_order_ref(&mut e, c.order);
        }
        Command::MassCancel(m) => {
            e.u8(6);
            e.opt(m.account, |e, a| e.u32(a.0));
            e.opt(m.instrument, |e, i| e.u32(i.0));
            e.opt(m.product.as_deref(), |e, p| e.str(p));
            e.opt(m.side, |e, s| e.u8(side_code(s)));
        }
        Command::SetPhase { instrument, phase } => {
            e.u8(7);
            e.u32(instrument.0);
            e.u8(phase_code(*phase));
        }
        Command::Halt { instrument } => {
            e.u8(8);
            e.u32(instrument.0);
        }
        Command::Resume {
            instrument,
            auction_ns,
        } => {
            e.u8(9);
            e.u32(instrument.0);
            e.u64(*auction_ns);
        }
        Command::EndTradingDay { instrument } => {
            e.u8(10);
            e.u32(instrument.0);
        }
        Command::Tick => e.u8(11),
        Command::Deposit {
            account,
            currency,
            amount,
        } => {
            e.u8(12);
            e.u32(account.0);
            e.u8(*currency as u8);
            e.i64(amount.0);
        }
        Command::Withdraw {
            account,
            currency,
            amount,
        } => {
            e.u8(13);
            e.u32(account.0);
            e.u8(*currency as u8);
            e.i64(amount.0);
        }
        Command::IndexFixing {
            index,
            date,
            value_e6,
        } => {
            e.u8(14);
            e.str(index);
            e.str(&date.to_string());
            e.i64(*value_e6);
        }
        Command::DailySettlement => e.u8(15),
        Command::MarginCallDeadline => e.u8(16),
        Command::RiskSweep => e.u8(17),
        Command::Expire { instrument } => {
            e.u8(18);
            e.u32(instrument.0);
        }
        Command::SetProductParams(c) => {
            e.u8(19);
            enc_params_change(&mut e, c);
        }
    }
    e.buf
}

/// Decodes what [`encode_command`] wrote.
pub fn decode_command(bytes: &[u8]) -> Result<(Timestamp, Command), String> {
    let mut d = Dec::new(bytes);
    let v = d.u8()?;
    if v != COMMAND_CODEC_VERSION {
        return Err(format!("unknown command encoding version {v}"));
    }
    let time = Timestamp(d.u64()?);
    let cmd = match d.u8()? {
        1 => Command::CreateAccount {
            account: AccountId(d.u32()?),
            role: role_of(&mut d)?,
            stp: stp_of(&mut d)?,
        },
        2 => Command::ListInstrument(Box::new(spec_of(&mut d)?)),
        3 => Command::NewOrder(NewOrder {
            account: AccountId(d.u32()?),
            instrument: InstrumentId(d.u32()?),
            client_order_id: clid_of(&mut d)?,
            side: side_of(&mut d)?,
            order_type: order_type_of(&mut d)?,
            price: price_of(&mut d)?,
            stop_price: price_of(&mut d)?,
            qty: Qty(d.u64()?),
            tif: tif_of(&mut d)?,
            min_qty: qty_of(&mut d)?,
            display_qty: qty_of(&mut d)?,
            post_only: d.bool()?,
            stp: d.opt(stp_of)?,
        }),
        4 => Command::Amend(Amend {
            account: AccountId(d.u32()?),
            instrument: InstrumentId(d.u32()?),
            order: order_ref_of(&mut d)?,
            price: price_of(&mut d)?,
            qty: qty_of(&mut d)?,
            stop_price: price_of(&mut d)?,
        }),
        5 => Command::Cancel(Cancel {
            account: AccountId(d.u32()?),
            instrument: InstrumentId(d.u32()?),
            order: order_ref_of(&mut d)?,
        }),
        6 => Command::MassCancel(MassCancel {
            account: d.opt(|d| Ok(AccountId(d.u32()?)))?,
            instrument: d.opt(|d| Ok(InstrumentId(d.u32()?)))?,
            product: d.opt(|d| d.str())?,
            side: d.opt(side_of)?,
        }),
        7 => Command::SetPhase {
            instrument: InstrumentId(d.u32()?),
            phase: phase_of(&mut d)?,
        },
        8 => Command::Halt {
            instrument: InstrumentId(d.u32()?),
        },
        9 => Command::Resume {
            instrument: InstrumentId(d.u32()?),
            auction_ns: d.u64()?,
        },
        10 => Command::EndTradingDay {
            instrument: InstrumentId(d.u32()?),
        },
        11 => Command::Tick,
        12 => Command::Deposit {
            account: AccountId(d.u32()?),
            currency: currency_of(&mut d)?,
            amount: Money(d.i64()?),
        },
        13 => Command::Withdraw {
            account: AccountId(d.u32()?),
            currency: currency_of(&mut d)?,
            amount: Money(d.i64()?),
        },
        14 => Command::IndexFixing {
            index: d.str()?,
            date: d.str()?.parse().map_err(|e| format!("bad date: {e}"))?,
            value_e6: d.i64()?,
        },
        15 => Command::DailySettlement,
        16 => Command::MarginCallDeadline,
        17 => Command::RiskSweep,
        18 => Command::Expire {
            instrument: InstrumentId(d.u32()?),
        },
        19 => Command::SetProductParams(Box::new(params_change_of(&mut d)?)),
        t => return Err(format!("unknown command tag {t}")),
    };
    if !d.done() {
        return Err("trailing bytes after a command".into());
    }
    Ok((time, cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of every command kind as version 1 wrote them: a journal written before a
    /// command was added must decode to the same commands forever.
    #[test]
    fn old_records_still_decode() {
        let bytes = encode_command(Timestamp(5), &Command::Tick);
        assert_eq!(bytes, [1, 5, 0, 0, 0, 0, 0, 0, 0, 11]);
        let halt = [1, 7, 0, 0, 0, 0, 0, 0, 0, 8, 3, 0, 0, 0];
        assert_eq!(
            decode_command(&halt).unwrap(),
            (
                Timestamp(7),
                Command::Halt {
                    instrument: InstrumentId(3)
                }
            )
        );
        // A change of product parameters: tag 19, the root, then each field as an option.
        let c = ProductParamsChange {
            initial_margin_bps: Some(1_500),
            ..ProductParamsChange::new("TKF")
        };
        let bytes = encode_command(Timestamp(0), &Command::SetProductParams(Box::new(c)));
        assert_eq!(&bytes[9..10], &[19]);
        assert_eq!(&bytes[10..17], &[3, 0, 0, 0, b'T', b'K', b'F']);
        assert_eq!(&bytes[17..24], &[0, 1, 0xdc, 0x05, 0, 0, 0]);
    }

    #[test]
    fn every_command_round_trips() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let mut order = NewOrder::limit(1, 2, Side::Sell, 1234, 5)
            .with_client_id("abc-1")
            .with_tif(TimeInForce::Gtd(Timestamp(99)));
        order.display_qty = Some(Qty(2));
        order.stp = Some(StpMode::CancelBoth);
        let cmds = vec![
            Command::CreateAccount {
                account: AccountId(7),
                role: Role::MarketMaker,
                stp: StpMode::CancelAggressing,
            },
            Command::ListInstrument(Box::new(InstrumentSpec::for_tests(3, 1000))),
            Command::NewOrder(order),
            Command::NewOrder(NewOrder::market(1, 0, Side::Buy, 3)),
            Command::Amend(Amend {
                account: AccountId(1),
                instrument: InstrumentId(0),
                order: OrderRef::Client(ClientOrderId::new("x").unwrap()),
                price: Some(Price(5)),
                qty: None,
                stop_price: Some(Price(4)),
            }),
            Command::Cancel(Cancel {
                account: AccountId(1),
                instrument: InstrumentId(0),
                order: OrderRef::Id(OrderId(9)),
            }),
            Command::MassCancel(MassCancel {
                account: None,
                instrument: Some(InstrumentId(1)),
                product: Some("TKF".into()),
                side: Some(Side::Buy),
            }),
            Command::SetPhase {
                instrument: InstrumentId(0),
                phase: Phase::Break,
            },
            Command::Halt {
                instrument: InstrumentId(0),
            },
            Command::Resume {
                instrument: InstrumentId(0),
                auction_ns: 5,
            },
            Command::EndTradingDay {
                instrument: InstrumentId(0),
            },
            Command::Tick,
            Command::Deposit {
                account: AccountId(1),
                currency: Currency::Cny,
                amount: Money(100),
            },
            Command::Withdraw {
                account: AccountId(1),
                currency: Currency::Usd,
                amount: Money(1),
            },
            Command::IndexFixing {
                index: "TPI-F".into(),
                date,
                value_e6: 7_500_000,
            },
            Command::DailySettlement,
            Command::MarginCallDeadline,
            Command::RiskSweep,
            Command::Expire {
                instrument: InstrumentId(2),
            },
            Command::SetProductParams(Box::new(ProductParamsChange {
                price_limit_bps: Some(700),
                maintenance_margin_bps: Some(1_000),
                order_qty_max: Some(Qty(50)),
                position_limit_spot_month: Some(9),
                fee_maker_minor: Some(-5),
                cb_ticks: Some(0),
                ..ProductParamsChange::new("TKF")
            })),
            Command::SetProductParams(Box::new(ProductParamsChange {
                initial_margin_bps: Some(1_500),
                position_limit_all_months: Some(u64::MAX),
                fee_taker_minor: Some(i64::MIN),
                market_protection_ticks: Some(3),
                ..ProductParamsChange::new("TKC")
            })),
        ];
        for (i, c) in cmds.iter().enumerate() {
            let bytes = encode_command(Timestamp(i as u64), c);
            assert_eq!(
                decode_command(&bytes).unwrap(),
                (Timestamp(i as u64), c.clone()),
                "{c:?}"
            );
        }
        assert!(decode_command(&[9]).is_err());
        assert!(decode_command(&[]).is_err());
    }
}
