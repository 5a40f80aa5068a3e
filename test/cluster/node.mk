# The pinned Node (.node-version) first on PATH, for every recipe and everything it starts: node, npm
# and npx (the system npm is a `#!/usr/bin/env node` script, so it runs on this node too), tsc, jest,
# and the processes the tests spawn (they use process.execPath). node.sh fetches it once into
# ~/.cache/modelship/node when the system node is older. Goals that run no node skip it.
ifneq ($(filter-out help clean,$(or $(MAKECMDGOALS),help)),)
NODE_BIN := $(shell test/cluster/node.sh)
ifeq ($(NODE_BIN),)
$(error test/cluster/node.sh found no node $(file < .node-version); its message is above)
endif
# A system node that is new enough is already first on PATH; prepending its directory (often
# /usr/bin) would shadow the tools PATH finds before it, such as those in /usr/local/bin.
ifneq ($(NODE_BIN),$(shell dirname "$$(command -v node)"))
export PATH := $(NODE_BIN):$(PATH)
endif
endif
