export declare const MAGIC0: number;
export declare const MAGIC1: number;
export declare const HEADER: number;
export declare const T: Readonly<{
  HELLO: 1;
  START: 2;
  STDIN: 3;
  STDIN_EOF: 4;
  KILL: 5;
  ACK: 129;
  STDOUT: 130;
  STDERR: 131;
  EXIT: 132;
  ERROR: 133;
}>;
export declare function frame(type: number, id: number, payload?: Buffer | string): Buffer;
