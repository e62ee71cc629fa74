// issue 17, the lease's wire contract (mockcloud/PROTOCOL.md): an acquire with the client's
// own token (Lfsc-Lease-Client) is answered with the lease that token already holds, and a
// commit with Lfsc-Lease-Release: if-waiters releases the lease when someone waits, granting
// the first queued acquire at once.
#include <optional>
#include <thread>

#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

constexpr char kTokA[] = "0123456789abcdef0123456789abcdef";
constexpr char kTokB[] = "fedcba9876543210fedcba9876543210";

httplib::Result Acquire(httplib::Client& c, const std::string& holder, const std::string& extra = "") {
  httplib::Headers hd;
  if (!holder.empty()) hd.emplace("Lfsc-Lease-Client", holder);
  return c.Post(("/lease?db=db&duration=5000" + extra).c_str(), hd, "", "text/plain");
}

httplib::Result Commit(httplib::Client& c, const std::string& body, const std::string& lease, bool release) {
  httplib::Headers hd{{"Lfsc-Lease-Id", lease}};
  if (release) hd.emplace("Lfsc-Lease-Release", "if-waiters");
  return c.Post("/db/tx?db=db", hd, body, "application/octet-stream");
}

std::string Snapshot(Model* m) {
  return m->Tx({{1, FilledPage(m->page_size, 1)}, {2, FilledPage(m->page_size, 2)}}, 2);
}

TEST(MockcloudLeaseHandoff, HolderTokenMakesAcquireIdempotent) {
  Harness h;
  h.Start();
  auto c = h.Client();
  auto r = Acquire(*c, kTokA);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = J(r)["id"];
  r = Acquire(*c, kTokA);  // the answer was lost, say: the same lease again
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(J(r)["id"], id);
  r = Acquire(*c, kTokA, "&wait=2000");  // a waiting acquire too, at once
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(J(r)["id"], id);
  EXPECT_EQ(Acquire(*c, kTokB)->status, 409);  // another holder
  EXPECT_EQ(Acquire(*c, "")->status, 409);     // no token: as before
  for (const std::string& bad : {std::string("not a token!"), std::string(65, 'a')}) {
    r = Acquire(*c, bad);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(ErrCode(r), "EBADREQUEST");
    EXPECT_NE(r->body.find("Lfsc-Lease-Client"), std::string::npos) << r->body;
  }
  ASSERT_EQ(c->Delete(("/lease?db=db&id=" + id).c_str())->status, 204);
  r = Acquire(*c, kTokA);  // released: a new lease
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(J(r)["id"], id);
}

TEST(MockcloudLeaseHandoff, CommitReleasesTheLeaseToAQueuedWaiter) {
  Harness h;
  h.Start();
  auto c = h.Client();
  auto r = Acquire(*c, kTokA);
  ASSERT_EQ(r->status, 200);
  const std::string id = J(r)["id"];
  Model m;
  // Nobody waits: the lease stays.
  r = Commit(*c, Snapshot(&m), id, true);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_FALSE(r->has_header("Lfsc-Lease-Released"));
  // A waiter queues; the holder learns of it on a refresh.
  std::optional<httplib::Result> got;
  std::thread t([&] { got.emplace(Acquire(*h.Client(), kTokB, "&wait=2000")); });
  bool queued = false;
  for (int i = 0; i < 500 && !queued; i++) {
    auto ref = c->Post(("/lease?db=db&duration=5000&id=" + id).c_str(), "", "text/plain");
    queued = ref && ref->status == 200 && ref->has_header("Lfsc-Lease-Waiters");
    if (!queued) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(queued);
  // Without the ask, a commit only says someone waits.
  r = Commit(*c, m.Tx({{2, FilledPage(m.page_size, 3)}}, 2), id, false);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Lfsc-Lease-Waiters"), "1");
  EXPECT_FALSE(r->has_header("Lfsc-Lease-Released"));
  // With it, the commit applies and the lease goes to the waiter in the same request.
  r = Commit(*c, m.Tx({{2, FilledPage(m.page_size, 4)}}, 2), id, true);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Lfsc-Lease-Released"), "1");
  t.join();
  ASSERT_TRUE(got.has_value() && *got && (*got)->status == 200);
  EXPECT_NE(J(*got)["id"], id);
  EXPECT_EQ(c->Post(("/lease?db=db&duration=5000&id=" + id).c_str(), "", "text/plain")->status, 409);
  EXPECT_EQ(Commit(*c, m.Tx({{2, FilledPage(m.page_size, 5)}}, 2), id, true)->status, 409);
}

}  // namespace
