<?php
// bench/stack's page: a little work (hashing and string building), then a short answer.
$n = isset($_GET['n']) ? min((int)$_GET['n'], 100000) : 2000;
$h = 0;
for ($i = 0; $i < $n; $i++) {
    $h = crc32($h . ':' . $i);
}
header('Content-Type: text/plain');
echo 'stack-ok ', gethostname(), ' ', dechex($h), "\n";
