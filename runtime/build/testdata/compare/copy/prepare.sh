# Modes, symlinks and an archive: what a git checkout does not keep.
chmod 700 dir/sub
chmod 600 dir/a.txt
ln -s file.txt link-to-file
ln -s ../file.txt dir/link
mkdir -p t/pkg && printf '#!/bin/sh\necho tool\n' > t/pkg/tool.sh && chmod 755 t/pkg/tool.sh
tar -C t -czf pkg.tgz pkg && rm -r t
