// A lower layer including a higher one: the layer check must refuse this tree.
#pragma once
#include "runner/run.h"
