// QuickFIX (C++) counterparty for the Tokex FIX gateway: two sessions that log on, discover
// instruments, place, amend, query and cancel orders, trade with each other, and — in phase 2,
// after the server restarted — log on again with their stored sequence numbers.
//
//   initiator SETTINGS phase1|phase2 SYMBOL PRICE
//
// Exits 0 when every expectation held; prints each step.
#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>

#include <chrono>
#include <cmath>
#include <map>
#include <vector>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

struct Received {
  std::string session;  // SenderCompID of our side
  FIX::Message msg;
};

static std::string get(const FIX::Message& m, int tag) {
  if (m.isSetField(tag)) return m.getField(tag);
  if (m.getHeader().isSetField(tag)) return m.getHeader().getField(tag);
  return "";
}

static std::string type(const FIX::Message& m) { return m.getHeader().getField(35); }

class App : public FIX::Application {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Received> inbox;
  std::map<std::string, bool> logged_on;
  std::map<std::string, int> logon_seq;  // MsgSeqNum of the server's Logon
  std::map<std::string, FIX::SessionID> ids;
  std::map<std::string, std::string> passwords;

  void onCreate(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> g(mu);
    ids[id.getSenderCompID().getValue()] = id;
  }
  void onLogon(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> g(mu);
    logged_on[id.getSenderCompID().getValue()] = true;
    cv.notify_all();
  }
  void onLogout(const FIX::SessionID& id) override {
    std::lock_guard<std::mutex> g(mu);
    logged_on[id.getSenderCompID().getValue()] = false;
    cv.notify_all();
  }
  void toAdmin(FIX::Message& m, const FIX::SessionID& id) override {
    if (type(m) == "A") {
      auto p = passwords.find(id.getSenderCompID().getValue());
      if (p != passwords.end()) m.setField(554, p->second);
    }
  }
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& m, const FIX::SessionID& id)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::RejectLogon) override {
    std::lock_guard<std::mutex> g(mu);
    std::string s = id.getSenderCompID().getValue();
    if (type(m) == "A") logon_seq[s] = std::atoi(get(m, 34).c_str());
    if (type(m) == "3" || type(m) == "A") inbox.push_back({s, m});
    cv.notify_all();
  }
  void fromApp(const FIX::Message& m, const FIX::SessionID& id)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue, FIX::UnsupportedMessageType) override {
    std::lock_guard<std::mutex> g(mu);
    inbox.push_back({id.getSenderCompID().getValue(), m});
    cv.notify_all();
  }

  // Waits for (and removes) the first message of `session` that satisfies `pred`.
  bool expect(const std::string& what, const std::string& session, std::function<bool(const FIX::Message&)> pred,
              FIX::Message* out = nullptr, int secs = 10) {
    std::unique_lock<std::mutex> g(mu);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
    for (;;) {
      for (auto it = inbox.begin(); it != inbox.end(); ++it) {
        if (it->session == session && pred(it->msg)) {
          std::string shown = it->msg.toString();
          for (auto& c : shown)
            if (c == '\x01') c = '|';
          std::cout << "  ok   " << what << "\n       " << shown << std::endl;
          if (out) *out = it->msg;
          inbox.erase(it);
          return true;
        }
      }
      if (cv.wait_until(g, deadline) == std::cv_status::timeout) {
        std::cout << "  FAIL " << what << " (nothing matching within " << secs << "s); inbox:" << std::endl;
        for (auto& r : inbox) {
          std::string shown = r.msg.toString();
          for (auto& c : shown)
            if (c == '\x01') c = '|';
          std::cout << "       [" << r.session << "] " << shown << std::endl;
        }
        return false;
      }
    }
  }

  bool wait_logon(const std::string& s, bool want, int secs = 15) {
    std::unique_lock<std::mutex> g(mu);
    return cv.wait_for(g, std::chrono::seconds(secs), [&] { return logged_on[s] == want; });
  }

  void send(const std::string& s, FIX::Message m) { FIX::Session::sendToTarget(m, ids.at(s)); }
};

static std::string now() {
  auto t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H:%M:%S", std::gmtime(&t));
  return buf;
}

static FIX::Message msg(const std::string& t) {
  FIX::Message m;
  m.getHeader().setField(35, t);
  return m;
}

static FIX::Message order(const std::string& cl, const std::string& sym, char side, int qty, const std::string& px,
                          char tif = '1') {
  FIX::Message m = msg("D");
  m.setField(11, cl);
  m.setField(55, sym);
  m.setField(54, std::string(1, side));
  m.setField(60, now());
  m.setField(38, std::to_string(qty));
  m.setField(40, "2");
  m.setField(44, px);
  m.setField(59, std::string(1, tif));
  return m;
}

static FIX::Message cancel(const std::string& cl, const std::string& orig, const std::string& sym, char side) {
  FIX::Message m = msg("F");
  m.setField(41, orig);
  m.setField(11, cl);
  m.setField(55, sym);
  m.setField(54, std::string(1, side));
  m.setField(60, now());
  return m;
}

// Price ± n ticks of 0.001, printed with 3 decimals.
static std::string px(const std::string& base, int ticks) {
  double d = std::atof(base.c_str());
  long m = std::lround(d * 1000) + ticks;
  std::ostringstream o;
  o << m / 1000 << "." << std::setw(3) << std::setfill('0') << m % 1000;
  return o.str();
}

#define CHECK(x)                                            \
  do {                                                      \
    if (!(x)) {                                             \
      std::cout << "interop FAILED at line " << __LINE__ << std::endl; \
      initiator.stop(true);                                 \
      return 1;                                             \
    }                                                       \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: initiator SETTINGS phase1|phase2 SYMBOL PRICE" << std::endl;
    return 2;
  }
  std::string phase = argv[2], sym = argv[3], p0 = argv[4];
  FIX::SessionSettings settings(argv[1]);
  App app;
  app.passwords["BUYER"] = "buyer-secret";
  app.passwords["SELLER"] = "seller-secret";
  FIX::FileStoreFactory store(settings);
  FIX::FileLogFactory log(settings);
  FIX::SocketInitiator initiator(app, store, settings, log);
  initiator.start();
  auto eq = [](int tag, const std::string& v) { return [=](const FIX::Message& m) { return get(m, tag) == v; }; };
  auto all = [](std::vector<std::function<bool(const FIX::Message&)>> ps) {
    return [=](const FIX::Message& m) {
      for (auto& p : ps)
        if (!p(m)) return false;
      return true;
    };
  };
  auto is = [&](const std::string& t) { return [=](const FIX::Message& m) { return type(m) == t; }; };

  std::cout << "== " << phase << ": logon" << std::endl;
  CHECK(app.wait_logon("BUYER", true));
  CHECK(app.wait_logon("SELLER", true));
  std::cout << "  ok   both sessions logged on; server Logon MsgSeqNum BUYER=" << app.logon_seq["BUYER"]
            << " SELLER=" << app.logon_seq["SELLER"] << std::endl;

  if (phase == "phase1") {
    std::cout << "== security list" << std::endl;
    FIX::Message x = msg("x");
    x.setField(320, "SL1");
    x.setField(559, "4");
    app.send("BUYER", x);
    FIX::Message y;
    CHECK(app.expect("SecurityList (y) with every instrument", "BUYER", all({is("y"), eq(320, "SL1"), eq(560, "0")}), &y));
    CHECK(y.toString().find("\x01" "55=" + sym + "\x01") != std::string::npos);
    std::cout << "  ok   " << sym << " is listed (" << get(y, 146) << " instruments)" << std::endl;

    std::cout << "== place, amend, trade" << std::endl;
    app.send("BUYER", order("B1", sym, '1', 5, p0));
    CHECK(app.expect("New (150=0) for B1", "BUYER", all({is("8"), eq(11, "B1"), eq(150, "0"), eq(39, "0")})));
    FIX::Message g = msg("G");
    g.setField(41, "B1");
    g.setField(11, "B2");
    g.setField(55, sym);
    g.setField(54, "1");
    g.setField(60, now());
    g.setField(38, "8");
    g.setField(40, "2");
    g.setField(44, p0);
    app.send("BUYER", g);
    CHECK(app.expect("Replaced (150=5) B1 -> B2, OrderQty 8", "BUYER",
                     all({is("8"), eq(11, "B2"), eq(41, "B1"), eq(150, "5"), eq(38, "8"), eq(151, "8")})));
    app.send("SELLER", order("S1", sym, '2', 3, p0, '3'));
    CHECK(app.expect("seller: New then Trade (150=F) 3 @ price, filled", "SELLER",
                     all({is("8"), eq(11, "S1"), eq(150, "F"), eq(32, "3"), eq(39, "2")})));
    CHECK(app.expect("buyer: Trade (150=F) partial, CumQty 3, LeavesQty 5", "BUYER",
                     all({is("8"), eq(11, "B2"), eq(150, "F"), eq(39, "1"), eq(14, "3"), eq(151, "5"), eq(32, "3")})));
    FIX::Message h = msg("H");
    h.setField(11, "B2");
    h.setField(55, sym);
    h.setField(54, "1");
    app.send("BUYER", h);
    CHECK(app.expect("OrderStatus (150=I) of B2: partially filled", "BUYER",
                     all({is("8"), eq(11, "B2"), eq(150, "I"), eq(39, "1"), eq(14, "3")})));
    app.send("BUYER", cancel("B2X", "B2", sym, '1'));
    CHECK(app.expect("Canceled (150=4) B2 by B2X", "BUYER", all({is("8"), eq(11, "B2X"), eq(41, "B2"), eq(150, "4")})));

    std::cout << "== rejects" << std::endl;
    app.send("BUYER", order("BAD1", sym, '1', 1, p0 + "5"));
    CHECK(app.expect("off-tick price: Rejected (150=8) with Text", "BUYER",
                     all({is("8"), eq(11, "BAD1"), eq(150, "8"), [](const FIX::Message& m) {
                            return get(m, 58).find("tick size") != std::string::npos;
                          }})));
    app.send("BUYER", order("BAD2", "NOPE-2026-01", '1', 1, p0));
    CHECK(app.expect("unknown symbol: Rejected, OrdRejReason 1", "BUYER", all({is("8"), eq(11, "BAD2"), eq(103, "1")})));
    app.send("BUYER", order(std::string(37, 'x'), sym, '1', 1, p0));
    CHECK(app.expect("ClOrdID of 37 characters: Rejected with Text", "BUYER", all({is("8"), eq(150, "8"), [](const FIX::Message& m) {
                                                                            return get(m, 58).find("ClOrdID") != std::string::npos;
                                                                          }})));
    app.send("BUYER", cancel("C9", "NEVER", sym, '1'));
    CHECK(app.expect("cancel of an unknown order: OrderCancelReject (9) 102=1 434=1", "BUYER",
                     all({is("9"), eq(11, "C9"), eq(102, "1"), eq(434, "1")})));
    FIX::Message nos = order("BAD3", sym, '1', 1, p0);
    nos.removeField(54);
    app.send("BUYER", nos);
    CHECK(app.expect("NewOrderSingle without Side: Reject (35=3) 373=1 371=54", "BUYER",
                     all({is("3"), eq(373, "1"), eq(371, "54")})));
    FIX::Message unk = msg("ZZ");
    app.send("BUYER", unk);
    CHECK(app.expect("unknown MsgType: Reject (35=3) 373=11", "BUYER", all({is("3"), eq(373, "11")})));
    FIX::Message qr = msg("R");
    qr.setField(131, "Q1");
    FIX::Group grp(146, 55);
    grp.setField(55, sym);
    qr.addGroup(grp);
    app.send("BUYER", qr);
    CHECK(app.expect("QuoteRequest: BusinessMessageReject (j) 380=3", "BUYER", all({is("j"), eq(372, "R"), eq(380, "3")})));

    std::cout << "== an order left working across the restart" << std::endl;
    app.send("BUYER", order("KEEP1", sym, '1', 2, px(p0, -5)));
    CHECK(app.expect("New for KEEP1", "BUYER", all({is("8"), eq(11, "KEEP1"), eq(150, "0")})));
  } else {
    CHECK(app.logon_seq["BUYER"] > 1);
    std::cout << "  ok   sequence numbers continued across the restart" << std::endl;
    std::cout << "== after the restart" << std::endl;
    FIX::Message h = msg("H");
    h.setField(11, "KEEP1");
    h.setField(55, sym);
    h.setField(54, "1");
    app.send("BUYER", h);
    CHECK(app.expect("KEEP1 still working (150=I, 39=0)", "BUYER", all({is("8"), eq(11, "KEEP1"), eq(150, "I"), eq(39, "0")})));
    app.send("BUYER", cancel("KEEP2", "KEEP1", sym, '1'));
    CHECK(app.expect("Canceled KEEP1 by ClOrdID after the restart", "BUYER",
                     all({is("8"), eq(11, "KEEP2"), eq(41, "KEEP1"), eq(150, "4")})));
    app.send("BUYER", order("M1", sym, '1', 1, px(p0, -6)));
    app.send("BUYER", order("M2", sym, '1', 1, px(p0, -7)));
    CHECK(app.expect("New M1", "BUYER", all({is("8"), eq(11, "M1"), eq(150, "0")})));
    CHECK(app.expect("New M2", "BUYER", all({is("8"), eq(11, "M2"), eq(150, "0")})));
    FIX::Message q = msg("q");
    q.setField(11, "MC1");
    q.setField(530, "7");
    q.setField(60, now());
    app.send("BUYER", q);
    CHECK(app.expect("OrderMassCancelReport (r) 531=7 533=2", "BUYER", all({is("r"), eq(11, "MC1"), eq(531, "7"), eq(533, "2")})));
    CHECK(app.expect("Canceled M1", "BUYER", all({is("8"), eq(11, "M1"), eq(150, "4")})));
    CHECK(app.expect("Canceled M2", "BUYER", all({is("8"), eq(11, "M2"), eq(150, "4")})));
    // A sell that trades with nothing: IOC, cancelled.
    app.send("SELLER", order("S9", sym, '2', 1, px(p0, 50), '3'));
    CHECK(app.expect("IOC with nothing to trade: Canceled", "SELLER", all({is("8"), eq(11, "S9"), eq(150, "4")})));
  }
  initiator.stop();
  std::cout << "interop " << phase << " passed" << std::endl;
  return 0;
}
