#!/usr/bin/env bash
# Regenerates test/gen/{es,pbts} from protos/*.proto with buf and local plugins (offline).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/node_modules/.bin:$PATH"
cd "$root/protos"
buf generate  # node_modules/.bin/buf via PATH: no npm/npx needed
# protobuf-ts has no import_extension option; module NodeNext needs `.js` on relative imports.
find "$root/test/gen/pbts" -name '*.ts' -print0 |
  xargs -0 sed -i -E 's#(from ["'"'"']\./[^"'"'"']+)(["'"'"'])#\1.js\2#g; s#\.js\.js#.js#g'
# ...and our tsconfig has noImplicitOverride: mark the MessageType overrides.
find "$root/test/gen/pbts" -name '*.ts' -print0 |
  xargs -0 sed -i -E 's#^    (create|internalBinaryRead|internalBinaryWrite)\(#    override \1(#'
echo "generated: $(cd "$root" && find test/gen -type f | sort | tr '\n' ' ')"
