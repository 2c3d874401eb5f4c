// GoogleTest glue shared by the C++ suites: one simulator per test program (started before
// the first test, stopped after the last), its state reset before every test.
#pragma once

#include <gtest/gtest.h>

#include "sim.hpp"

inline Sim g_sim;

class SimEnvironment : public ::testing::Environment {
public:
    void SetUp() override { g_sim.start(); }
    void TearDown() override { g_sim.stop(); }
};

class SimTest : public ::testing::Test {
protected:
    void SetUp() override { g_sim.reset(); }
};

// The body of each suite's main().
inline int run_all_tests_with_sim(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new SimEnvironment);
    return RUN_ALL_TESTS();
}
