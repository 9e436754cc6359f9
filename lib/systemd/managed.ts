/**
 * How sysctr marks the files it writes for systemd: the drop-in's name, and the header line its
 * units and drop-ins start with (how sysctr tells its own files from someone else's). A module of
 * its own so that reading ownership (containers list) loads nothing that renders.
 */
export const DROPIN_NAME = 'sysctr.conf';
export const MANAGED_HEADER = '# Managed by sysctr';
