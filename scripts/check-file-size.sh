#!/usr/bin/env bash
# Fails when a source file is over the project's limit (400 lines; aim for under 300).
set -euo pipefail
limit=400
status=0
while IFS= read -r file; do
  lines=$(wc -l < "$file")
  if [ "$lines" -gt "$limit" ]; then
    echo "$file: $lines lines (limit $limit)" >&2
    status=1
  fi
done < <(git ls-files -co --exclude-standard '*.ts' '*.js' '*.mjs')
exit $status
