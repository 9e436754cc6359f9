/** Lint findings and rule descriptions. */

export type Severity = 'error' | 'warning';

export interface Finding {
  /** path of the file as the user named its directory, e.g. ./etcd/service.template */
  file: string;
  line: number;
  column: number;
  severity: Severity;
  rule: string;
  message: string;
}

export interface RuleInfo {
  id: string;
  severity: Severity;
  /** one line: what the rule checks */
  summary: string;
  /** one line: how to fix it */
  fix: string;
}

/** A finding before the directory prefix and severity are attached. */
export interface RawFinding {
  file: string;
  line: number;
  col: number;
  rule: string;
  message: string;
}
