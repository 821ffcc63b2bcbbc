_base_ = './slim_stock.py'
model = dict(
    rpn_head=_base_.rpn_focal, train_cfg=dict(rpn=_base_.rpn_focal_train_cfg))
