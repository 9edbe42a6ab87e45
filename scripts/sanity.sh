#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection under ansible_collections/ghostguard/certs.
# No ignore files: every test must pass as the code stands.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
py=${SANITY_PYTHON:-3.11}
tree=$root/.build/sanity/ansible_collections/ghostguard/certs

# ansible-test bootstraps pip in its venvs from a script it downloads; give it a cached stand-in.
pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$root/scripts/get_pip_cache.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

rm -rf "$tree" && mkdir -p "$tree"
(
  cd "$root"
  git ls-files -co --exclude-standard -z | xargs -0 -I{} cp --parents {} "$tree/" 2>/dev/null || true
)
cd "$tree"
git init -q && git add -A >/dev/null 2>&1 && git -c user.email=ci@test -c user.name=ci commit -qm sanity >/dev/null
"$venv/bin/ansible-test" sanity --requirements --venv --python "$py" --color no "$@"
