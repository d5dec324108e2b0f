/**
 * Concerns: constructs that group one part of a stack (ingest, the window
 * workflow, the scheduler, operations, the query layer) with its grants,
 * without renaming what they hold.
 */
import { CfnElement, Names, Stack } from 'aws-cdk-lib';
import { Construct, Node } from 'constructs';

/**
 * One concern of a {@link ConcernStack}. Its resources keep the logical ids
 * they would have at the stack's top level, so moving resources into a
 * concern (or between concerns) replaces nothing in a deployed stack: not
 * the queues and their messages, not the named state machine, log groups,
 * dashboard, Glue tables or workgroup. Two concerns of one stack must not
 * hold children of the same id (synthesis fails on the duplicate logical id).
 */
export class Concern extends Construct {}

/** A stack whose logical ids skip the {@link Concern}s in each resource's path. */
export class ConcernStack extends Stack {
  protected allocateLogicalId(element: CfnElement): string {
    const scopes = element.node.scopes;
    const path = scopes.slice(scopes.indexOf(this) + 1).filter((scope) => !(scope instanceof Concern));
    // CDK's own naming (human part + hash of the path), over the path
    // without the concerns: nodeUniqueId reads only the scopes after the first.
    return Names.nodeUniqueId({ scopes: [this, ...path] } as unknown as Node);
  }
}
