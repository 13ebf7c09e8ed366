#pragma once
// A ring chosen at run time by name (sim_nic's RX descriptor rings, `ringlab replay --ring NAME`).
// The virtual call is paid once per burst. Element types are trivially copyable descriptors.
// Vocabulary as in every design here: _burst moves up to n items, _bulk all n or none.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <type_traits>

namespace ringlab::rings {

template <class T>
class any_ring {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  virtual ~any_ring() = default;
  // Producer side. first_slot (if given) receives the masked slot index of the first item written,
  // so a tracer can name the ring slot each descriptor went through.
  virtual std::size_t enqueue_burst(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept = 0;
  virtual bool enqueue_bulk(std::span<const T> items, std::uint32_t* first_slot = nullptr) noexcept = 0;
  // Consumer side.
  virtual std::size_t dequeue_burst(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept = 0;
  virtual bool dequeue_bulk(std::span<T> out, std::uint32_t* first_slot = nullptr) noexcept = 0;
  virtual std::size_t capacity() const noexcept = 0;   // items it can hold
  virtual std::size_t size() const noexcept = 0;       // items in it now (exact when quiescent)
  virtual std::string_view name() const noexcept = 0;  // registry name: "spsc", "mpmc", ...
};

}  // namespace ringlab::rings
