#pragma once
/// The whole public API of stackless' core and threads layers in one include.

#include <stackless/channel.hpp>
#include <stackless/errors.hpp>
#include <stackless/introspect.hpp>
#include <stackless/runtime.hpp>
#include <stackless/scheduler.hpp>
#include <stackless/select.hpp>
#include <stackless/task.hpp>
#include <stackless/tasklet.hpp>
#include <stackless/tasklet_local.hpp>
#include <stackless/time.hpp>
