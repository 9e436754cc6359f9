/**
 * Every lint rule: id, severity, a one-line explanation and a fix. docs/lint-rules.md documents
 * the same table; a test keeps the two in step.
 */
import type { RuleInfo } from './types.js';

const r = (id: string, severity: RuleInfo['severity'], summary: string, fix: string): RuleInfo => ({ id, severity, summary, fix });

export const RULES: readonly RuleInfo[] = [
  // the image directory and its templates
  r('exports-missing', 'error', 'the directory holds none of the exports files (config.json.template, manifest.json, service.template, tmpfiles.template) nor a Dockerfile', 'lint the image source directory, or put the files in it (or in its exports/ subdirectory)'),
  r('exports-literal-config', 'warning', 'a literal config.json instead of config.json.template: no variable can be substituted', 'rename it to config.json.template and use $NAME, ${STATE_DIRECTORY}, ... where the values vary'),
  r('template-invalid-placeholder', 'error', 'a "$" that does not start $NAME or ${NAME} ($1, $(, ${ unclosed, a lone $)', 'write $$ for a literal "$", or fix the variable name'),
  r('template-undefined-variable', 'error', 'a variable with no value: not set by sysctr, not in manifest.json defaultValues', 'add it to defaultValues in manifest.json (install then works without --set)'),
  r('json-syntax', 'error', 'config.json (after rendering with the defaults) or manifest.json is not valid JSON', 'fix the JSON at the position shown (a missing comma, a trailing comma, an unquoted value)'),
  // manifest.json
  r('manifest-schema', 'error', 'manifest.json does not match schemas/manifest.schema.json (defaultValues must map names to strings)', 'quote numbers and booleans in defaultValues; use the types the schema gives'),
  r('manifest-unknown-key', 'warning', 'a top-level manifest.json member sysctr does not know (a typo is silently ignored)', 'use version, defaultValues, noContainerService, renameFiles, installedFilesTemplate, useLinks, volumes or healthcheck'),
  r('manifest-unused-default', 'warning', 'a defaultValues entry no template uses', 'remove it, or use the variable where it was meant to be'),
  r('volume-assets-missing', 'warning', 'an assets volume whose files are not in the source dir (exports/assets/NAME/): install refuses an image without them', 'put the files the service reads under assets/NAME/ beside the exports files, or declare the volume as "type": "data"'),
  r('volume-mount', 'error', 'two volumes share a mount point, or one is mounted over a path the runtime or sysctr needs (/, /proc, /dev, /sys, /exports)', 'give each volume its own mount point, outside those paths'),
  r('manifest-hostfs-path', 'warning', 'a renameFiles key or installedFilesTemplate entry names no path under the source dir\'s hostfs/ (checked when there is one)', 'name the file as it is under hostfs/ (or, for installedFilesTemplate, its host path after renameFiles)'),
  r('manifest-forced-default', 'warning', 'defaultValues sets a variable sysctr always sets itself (NAME, DESTDIR, EXEC_*, ...): the default is ignored', 'remove it from defaultValues'),
  // config.json
  r('config-schema', 'error', 'the rendered config.json does not match schemas/runtime-config.schema.json', 'give the member the type and form the message names'),
  r('config-root-readonly', 'error', 'root.readonly is not true: sysctr deployments share files with the store and must run read-only', 'set "root": {"path": "rootfs", "readonly": true}; mount writable state from ${STATE_DIRECTORY}'),
  r('config-root-path', 'error', 'root.path is not "rootfs": the deployment keeps the image at DESTDIR/rootfs', 'set "path": "rootfs"'),
  r('config-terminal', 'error', 'process.terminal is true: a service has no terminal and a detached runc run fails', 'set "terminal": false'),
  r('config-terminal-missing', 'warning', 'process.terminal is not set (runc defaults to false, but `runc spec` writes true: say it)', 'add "terminal": false to process'),
  r('config-selinux-process-label', 'warning', 'linux.selinuxProcessLabel is an old runtime-spec location that runc ignores', 'use process.selinuxLabel'),
  r('config-mount-rbind-type', 'error', 'a mount of type "rbind": there is no such filesystem type', 'use "type": "bind" with "rbind" in options'),
  r('config-bind-host-state', 'warning', 'a bind mount source in config.json.template hard-codes /var/lib, /run or /var/run (wrong in user mode, and for a second instance)', 'use ${STATE_DIRECTORY}/... or ${RUN_DIRECTORY}/... (with $NAME for per-instance dirs)'),
  r('config-obsolete-field', 'warning', 'linux.capabilities or linux.rlimits: old runtime-spec locations that current runc ignores', 'move them to process.capabilities and process.rlimits'),
  r('config-hostname-without-uts', 'error', 'hostname is set but the container has no uts namespace: runc refuses to start it', 'add {"type": "uts"} to linux.namespaces, or remove hostname'),
  r('config-duplicate-key', 'warning', 'a JSON member given twice in one object: only the last counts', 'remove one of them'),
  // the unit
  r('unit-syntax', 'error', 'a unit line that is not [Section], KEY=VALUE or a comment, or a key outside a section', 'fix the line (systemd ignores it with a warning)'),
  r('unit-exec-start', 'error', 'ExecStart= is missing or does not use $EXEC_START: sysctr generates the runc command line', 'write ExecStart=$EXEC_START'),
  r('unit-exec-stop', 'error', 'ExecStop= is missing or does not use $EXEC_STOP: sysctr generates the stop sequence', 'write ExecStop=$EXEC_STOP'),
  r('unit-working-directory', 'error', 'WorkingDirectory= is missing or does not use $DESTDIR: runc finds config.json in the working directory', 'write WorkingDirectory=$DESTDIR'),
  r('unit-unknown-section', 'warning', 'a section systemd does not use in a service unit (systemd ignores it)', 'use [Unit], [Service] and [Install] (or an X- section for your own data)'),
  r('unit-unknown-key', 'warning', 'a key systemd does not know in that section (systemd ignores it, often a typo)', 'check the spelling against systemd.unit(5), systemd.service(5), systemd.exec(5)'),
  r('unit-restart-value', 'error', 'Restart= has a value systemd does not accept', 'use no, on-success, on-failure, on-abnormal, on-watchdog, on-abort or always'),
  r('unit-type-value', 'error', 'Type= has a value systemd does not accept', 'use simple, exec, forking, oneshot, dbus, notify, notify-reload or idle'),
  r('unit-forking-without-pidfile', 'warning', 'Type=forking without PIDFile=: systemd has to guess the main process', 'add PIDFile=$PIDFILE (and the detached form: ExecStopPost=$EXEC_STOPPOST)'),
  r('unit-detached-not-forking', 'warning', 'the unit uses $PIDFILE and $EXEC_STOPPOST (runc runs detached) but not Type=forking: only sysctr\'s drop-in makes it work; the unit alone (and Atomic) sees the service exit at once', 'add Type=forking and PIDFile=$PIDFILE to the unit'),
  r('unit-systemd-verify', 'warning', 'systemd-analyze verify reported a problem with the rendered unit', 'fix what systemd says at that line'),
  // tmpfiles
  r('tmpfiles-syntax', 'error', 'a tmpfiles line with fewer than two fields or an unterminated quote', 'write: Type Path [Mode User Group Age Argument], "-" for defaults'),
  r('tmpfiles-type', 'error', 'an unknown tmpfiles type letter or modifier', 'use a type from tmpfiles.d(5) (f w d D e v q Q p L c b C x X r R z Z t T h H a A) with modifiers + ! - = ~ ^ $'),
  r('tmpfiles-path', 'error', 'the path (after rendering) is not absolute', 'start it with / or with ${STATE_DIRECTORY}, ${RUN_DIRECTORY}, ${CONF_DIRECTORY}'),
  r('tmpfiles-mode', 'error', 'the mode field is not "-" or an octal mode (optionally with ~ or : prefix)', 'write e.g. 0755, ~0700 or -'),
  r('tmpfiles-owner', 'error', 'the user or group field is not "-", a number or a valid name', 'write a user/group name, a numeric id, ${HOST_UID}/${HOST_GID} or -'),
  r('tmpfiles-age', 'error', 'the age field is not "-" or a time span', 'write e.g. 10d, 1h30min, ~1w or -'),
  // Dockerfile
  r('dockerfile-maintainer', 'warning', 'MAINTAINER is deprecated', 'use LABEL maintainer="Name <email>"'),
  r('dockerfile-export-dir', 'error', 'files are copied to /export: sysctr reads /exports', 'copy them to /exports/'),
  r('dockerfile-exports-trailing-slash', 'error', 'COPY ... /exports without the trailing "/": one file is copied as a file named /exports, several fail the build', 'write /exports/'),
  r('dockerfile-add-exports', 'warning', 'ADD used for exports files: ADD also fetches URLs and unpacks archives', 'use COPY for files going to /exports'),
  r('dockerfile-exports-not-copied', 'error', 'an exports file in the directory is not copied to /exports by the Dockerfile: the image will not have it', 'add it to the COPY ... /exports/ line'),
  r('dockerfile-nodocs', 'warning', 'a dnf/yum/microdnf install that keeps documentation (a bigger image)', 'add --setopt=tsflags=nodocs (or --nodocs)'),
  r('dockerfile-label-system', 'warning', 'no LABEL atomic.type=system: tools cannot tell this is a system container image', 'add LABEL atomic.type="system"'),
  r('dockerfile-unpinned-base', 'warning', 'the base image has no tag, or the tag latest: builds change under you', 'pin a version tag or a digest (FROM fedora:40, FROM x@sha256:...)'),
  r('dockerfile-cache-clean', 'warning', 'a package install whose cache is not cleaned in the same RUN (the cache stays in the layer)', 'end the RUN with && dnf clean all / yum clean all / rm -rf /var/lib/apt/lists/*, or use apk add --no-cache'),
];

export const RULES_BY_ID = new Map(RULES.map((x) => [x.id, x]));
