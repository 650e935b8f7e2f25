// The plan of `bsradm up r0` on alice for test/fixtures/config/reference-up.conf, line for line;
// both the planner and the bsradm CLI are checked against it.
export const REFERENCE_UP = [
  'bsrsetup new-resource r0 0',
  'bsrsetup new-minor r0 1 0',
  'bsrsetup new-peer r0 1 --_name=bob --shared-secret=s3cret --cram-hmac-alg=sha1 --protocol=C',
  'bsrsetup new-path r0 1 ipv4:10.1.1.31:7000 ipv4:10.1.1.32:7000',
  'bsrmeta 1 v09 /dev/sda7 internal apply-al',
  'bsrsetup attach 1 /dev/sda7 /dev/sda7 internal',
  'bsrsetup connect r0 1',
];
