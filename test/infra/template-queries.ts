import { Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

export interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
  readonly Effect: string;
}

/** The logical ID of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  const cfn = construct.node.defaultChild ?? construct;
  return Stack.of(construct).resolve((cfn as unknown as { logicalId: string }).logicalId);
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

/** Every IAM policy statement with the logical IDs of the roles it is attached to. */
export function policyStatements(
  template: Template,
): { readonly roles: string[]; readonly statement: Statement }[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies).flatMap((policy) => {
    const props = policy.Properties as {
      PolicyDocument: { Statement: Statement[] };
      Roles?: { Ref: string }[];
    };
    const roles = (props.Roles ?? []).map((role) => role.Ref);
    return props.PolicyDocument.Statement.map((statement) => ({ roles, statement }));
  });
}

/** The statements granting any action that starts with `prefix` (e.g. `s3:`). */
export function statementsWith(template: Template, prefix: string) {
  return policyStatements(template).filter(({ statement }) =>
    actionsOf(statement).some((action) => action.startsWith(prefix)),
  );
}

/** A resource's properties by logical ID. */
export function propsOf(template: Template, id: string): Record<string, unknown> {
  const resource = template.toJSON().Resources[id] as { Properties: Record<string, unknown> };
  if (!resource) throw new Error(`no resource ${id}`);
  return resource.Properties;
}

/** The statement's resources as a list. */
export function resourcesOf(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** The logical IDs of the roles granted any `secretsmanager:` action on `secret` (ARN or Ref). */
export function secretReaders(template: Template, secret: unknown): string[] {
  const roles = statementsWith(template, 'secretsmanager:')
    .filter(({ statement }) =>
      resourcesOf(statement).some((r) => JSON.stringify(r) === JSON.stringify(secret)),
    )
    .flatMap(({ roles }) => roles);
  return [...new Set(roles)].sort();
}
