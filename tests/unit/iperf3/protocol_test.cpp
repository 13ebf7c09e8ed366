// tools/iperf3/protocol.hpp: the parameter JSON stock iperf3 3.12 sends (captured from `iperf3 -c`
// against a capturing listener), what we refuse and with which iperf3 error number, the results
// JSON's fields, and the wire helpers' exact bytes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tools/iperf3/protocol.hpp"

using namespace ringlab::iperf3;

TEST(iperf3_protocol, parses_the_parameters_of_stock_iperf3_3_12) {
  // iperf3 -c ... -t 1 -R -P 2
  auto r = parse_params(R"({"tcp":true,"omit":0,"time":1,"num":0,"blockcount":0,"parallel":2,"reverse":true,)"
                        R"("len":131072,"pacing_timer":1000,"client_version":"3.12"})");
  ASSERT_TRUE(r.params) << r.refused->why;
  EXPECT_FALSE(r.refused);
  EXPECT_TRUE(r.params->reverse);
  EXPECT_EQ(r.params->parallel, 2u);
  EXPECT_EQ(r.params->len, 131072u);
  EXPECT_EQ(r.params->time, 1.0);
  EXPECT_EQ(r.params->omit, 0u);
  EXPECT_EQ(r.params->client_version, "3.12");
  // -O 2 -N -w 64K -l 1000 -n 1M (without --bidir)
  r = parse_params(R"({"tcp":true,"omit":2,"time":0,"num":1048576,"blockcount":0,"nodelay":true,"parallel":1,)"
                   R"("window":65536,"len":1000,"pacing_timer":1000,"client_version":"3.12"})");
  ASSERT_TRUE(r.params);
  EXPECT_FALSE(r.params->reverse);
  EXPECT_EQ(r.params->omit, 2u);
  EXPECT_EQ(r.params->bytes, 1048576u);
  EXPECT_TRUE(r.params->no_delay);
  EXPECT_EQ(r.params->window, 65536u);
  EXPECT_EQ(r.params->len, 1000u);
}

TEST(iperf3_protocol, refuses_what_it_does_not_do_with_iperf3s_error_numbers) {
  auto code = [](const char* j) { return parse_params(j).refused ? static_cast<int>(parse_params(j).refused->code) : 0; };
  // iperf3 -c -u -t 1: the client prints "an option you are trying to set is not implemented yet" (IEUNIMP 13)
  EXPECT_EQ(code(R"({"udp":true,"omit":0,"time":1,"num":0,"blockcount":0,"parallel":1,"len":32768,"bandwidth":1048576,)"
                 R"("pacing_timer":1000,"client_version":"3.12"})"), 13);
  EXPECT_EQ(code(R"({"tcp":true,"bidirectional":true,"parallel":1,"len":1000})"), 13);
  EXPECT_EQ(code(R"({"tcp":true,"reverse":true,"num":1000,"parallel":1})"), 13);
  EXPECT_EQ(code(R"({"tcp":true,"MSS":1000})"), 13);
  EXPECT_EQ(code(R"({"tcp":true,"bandwidth":1000000})"), 13);
  EXPECT_EQ(code(R"({"tcp":true,"bandwidth":0})"), 0) << "rate 0 is iperf3's unlimited";
  EXPECT_EQ(code(R"({"tcp":true,"parallel":129})"), 6);   // IENUMSTREAMS
  EXPECT_EQ(code(R"({"tcp":true,"parallel":0})"), 6);
  EXPECT_EQ(code(R"({"tcp":true,"len":2097152})"), 7);    // IEBLOCKSIZE
  EXPECT_EQ(code(R"({"tcp":true,"len":-5})"), 107);
  EXPECT_EQ(code(R"({"tcp":true,"time":"ten"})"), 107);
  EXPECT_EQ(code("not json"), 107);
  EXPECT_EQ(code("[1,2]"), 107);
}

TEST(iperf3_protocol, results_carry_every_field_the_iperf3_client_requires) {
  const std::string j = results_json({{.id = 1, .bytes = 123456789012ull, .retransmits = 7, .end_time = 1.5},
                                      {.id = 3, .bytes = 5, .retransmits = 0, .end_time = 1.5}},
                                     {.total = 10, .user = 4, .system = 6}, /*server_sends=*/true);
  const auto v = nlohmann::json::parse(j);
  EXPECT_EQ(v["cpu_util_total"], 10.0);
  EXPECT_EQ(v["cpu_util_user"], 4.0);
  EXPECT_EQ(v["cpu_util_system"], 6.0);
  EXPECT_EQ(v["sender_has_retransmits"], 1);
  ASSERT_EQ(v["streams"].size(), 2u);
  EXPECT_EQ(v["streams"][0]["id"], 1);
  EXPECT_EQ(v["streams"][0]["bytes"], 123456789012ull);
  EXPECT_EQ(v["streams"][0]["retransmits"], 7);
  for (const char* k : {"jitter", "errors", "packets", "start_time", "end_time"}) EXPECT_TRUE(v["streams"][1].contains(k)) << k;
  EXPECT_EQ(v["streams"][1]["id"], 3);
  EXPECT_EQ(v["streams"][1]["end_time"], 1.5);
  // A receiving server sends -1 for sender_has_retransmits and for every stream's retransmits.
  const auto rx = nlohmann::json::parse(results_json({{.id = 1, .bytes = 9, .retransmits = 4}}, {}, false));
  EXPECT_EQ(rx["sender_has_retransmits"], -1);
  EXPECT_EQ(rx["streams"][0]["retransmits"], -1);
  const auto back = parse_results(j);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->streams.size(), 2u);
  EXPECT_EQ(back->streams[0].bytes, 123456789012ull);
  EXPECT_EQ(back->streams[1].id, 3);
  std::string why;
  EXPECT_FALSE(parse_results(R"({"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":1,"streams":[]})", &why));
  EXPECT_EQ(why, "sender_has_retransmits is missing");
  EXPECT_FALSE(parse_results(R"({"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":1,"sender_has_retransmits":0,)"
                             R"("streams":[{"id":1,"bytes":2}]})", &why));
}

TEST(iperf3_protocol, wire_helpers_give_iperf3s_bytes) {
  EXPECT_EQ(length_prefix(0x01020304), (std::array<std::byte, 4>{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}}));
  const std::array<std::byte, 4> b{std::byte{0}, std::byte{0}, std::byte{1}, std::byte{0x2c}};
  EXPECT_EQ(read_length(b), 300u);
  const auto e = server_error_message(ierrno::unimplemented, 0);
  EXPECT_EQ(e, (std::array<std::byte, 9>{std::byte{0xfe}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{13},
                                         std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}}));
  EXPECT_EQ(stream_id(0), 1);
  EXPECT_EQ(stream_id(1), 3);
  EXPECT_EQ(stream_id(2), 4);
  const auto c = make_cookie(7);
  EXPECT_EQ(c[36], '\0');
  for (std::size_t i = 0; i < 36; ++i) EXPECT_TRUE((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '2' && c[i] <= '7'));
  EXPECT_NE(make_cookie(7), make_cookie(8));
  EXPECT_EQ(to_string(state::param_exchange), "PARAM_EXCHANGE");
  EXPECT_EQ(static_cast<int>(state::server_error), -2);
}
