// The simple targets of drivers/md, real and tested: linear, error, zero, delay, flakey; and
// two test targets for the harness's own tests (see test_targets.cpp).
#pragma once

namespace model {

void register_linear_target();
void register_error_and_zero_targets();
void register_delay_target();
void register_flakey_target();
void register_test_targets();

inline void register_simple_targets() {
  register_linear_target();
  register_error_and_zero_targets();
  register_delay_target();
  register_flakey_target();
  register_test_targets();
}

}  // namespace model
