#pragma once
// bulk/stack (stack_bulk.cpp): two stack::interfaces over an in-memory port pair, one core.
#include <benchmark/benchmark.h>

#include <cstddef>

namespace ringlab::bench::tcp {

void bulk_stack(benchmark::State& st, std::size_t bulk_bytes, double mss_unit);

}  // namespace ringlab::bench::tcp
