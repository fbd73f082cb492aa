// The module parameter registry: a parameter backed by a variable reads, writes and resets it
// the way param_get_uint/param_set_uint do, and parses values as the kernel's kstrtox does.
#include "engines/module_params.hpp"

#include <catch2/catch.hpp>

#include "engines/engine_registry.hpp"

using engines::find_module_param;
using engines::parse_kernel_int;
using engines::parse_kernel_uint;

namespace {

unsigned test_uint = 7;
int test_int = -3;

}  // namespace

TEST_CASE("an unsigned parameter takes what kstrtouint takes: a base from the prefix, '+', one newline") {
  unsigned v = 0;
  REQUIRE(parse_kernel_uint("64\n", &v).empty());
  REQUIRE(v == 64);
  REQUIRE(parse_kernel_uint("0x40", &v).empty());
  REQUIRE(v == 64);
  REQUIRE(parse_kernel_uint("0100", &v).empty());
  REQUIRE(v == 64);
  REQUIRE(parse_kernel_uint("+5", &v).empty());
  REQUIRE(v == 5);
  REQUIRE(parse_kernel_uint("4294967295", &v).empty());
  REQUIRE(v == 4294967295u);
  v = 11;
  for (const char* bad : {"", "\n", "x", "-1", "64\n\n", "64 ", " 64", "08", "0x", "1 2\n"}) {
    INFO("'" << bad << "'");
    REQUIRE(parse_kernel_uint(bad, &v) == "Invalid argument");
  }
  REQUIRE(parse_kernel_uint("4294967296", &v) == "Numerical result out of range");
  REQUIRE(parse_kernel_uint("99999999999999999999", &v) == "Numerical result out of range");
  REQUIRE(v == 11);  // a refused value leaves the parameter as it was
}

TEST_CASE("an int parameter takes a sign and refuses what does not fit in 32 bits") {
  int v = 0;
  REQUIRE(parse_kernel_int("-2147483648", &v).empty());
  REQUIRE(v == -2147483647 - 1);
  REQUIRE(parse_kernel_int("-0x10\n", &v).empty());
  REQUIRE(v == -16);
  REQUIRE(parse_kernel_int("2147483648", &v) == "Numerical result out of range");
  REQUIRE(parse_kernel_int("-2147483649", &v) == "Numerical result out of range");
  REQUIRE(parse_kernel_int("+-1", &v) == "Invalid argument");
}

TEST_CASE("a parameter registered with its variable reads it, writes it, and resets it to its value at registration") {
  engines::register_module_param({.module = "test_params",
                                  .name = "registry_uint",
                                  .description = "a registry test's unsigned",
                                  .value = &test_uint});
  engines::register_module_param({.module = "test_params",
                                  .name = "registry_int",
                                  .description = "a registry test's int",
                                  .value = &test_int,
                                  .writable = false});
  const engines::ModuleParam* u = find_module_param("test_params", "registry_uint");
  const engines::ModuleParam* i = find_module_param("test_params", "registry_int");
  REQUIRE(u);
  REQUIRE(i);
  REQUIRE(u->writable);
  REQUIRE_FALSE(i->writable);
  REQUIRE(u->get() == "7\n");
  REQUIRE(i->get() == "-3\n");
  REQUIRE(u->set("12\n").empty());
  REQUIRE(test_uint == 12);
  REQUIRE(u->get() == "12\n");
  REQUIRE(u->set("twelve\n") == "Invalid argument");
  REQUIRE(test_uint == 12);
  REQUIRE(engines::module_param_names("test_params") == std::vector<std::string>{"registry_int", "registry_uint"});
  engines::reset_module_params();
  REQUIRE(test_uint == 7);
  REQUIRE(find_module_param("test_params", "nope") == nullptr);
}

TEST_CASE("the engines register dm_mod's kcopyd_subjob_size_kb and dm_clone's clone_hydration_throttle") {
  engines::register_engines();
  const engines::ModuleParam* subjob = find_module_param("dm_mod", "kcopyd_subjob_size_kb");
  const engines::ModuleParam* throttle = find_module_param("dm_clone", "clone_hydration_throttle");
  REQUIRE(subjob);
  REQUIRE(throttle);
  REQUIRE(subjob->writable);
  REQUIRE(throttle->writable);
  engines::reset_module_params();
  REQUIRE(subjob->get() == "512\n");
  REQUIRE(throttle->get() == "100\n");
}
