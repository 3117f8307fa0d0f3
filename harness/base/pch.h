// Precompiled header for the torch-using targets. LibTorch's headers dominate
// compile time on a 2-core machine; parsing them once per target instead of
// once per translation unit is the single biggest build-time saving.
#pragma once
#include <torch/torch.h>
#include <fmt/core.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>
